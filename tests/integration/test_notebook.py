"""The analyst's walkthrough notebook runs end to end against a fresh PostGIS database.

The notebook creates, fills and drops its own database; the test fixes its name through
``LOCMAP_WALKTHROUGH_SUFFIX`` so it can drop it even if a cell fails half way.
The kernel is the ``python3`` spec that ipykernel installs into the environment's own
``share/jupyter/kernels``; its ``argv[0]`` is ``python``, which jupyter_client replaces
with ``sys.executable``, so the kernel runs this interpreter on a fresh
``pip install -e .[dev]`` without any ``ipykernel install`` step.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from sqlalchemy.engine import make_url  # noqa: E402

from locmap.config import load_settings  # noqa: E402
from locmap.pgserver import drop_database, resolve_url  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "assessment_walkthrough.ipynb"


def _outputs_text(nb: object) -> str:
    parts: list[str] = []
    for cell in nb.cells:  # type: ignore[attr-defined]
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.slow
def test_walkthrough_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit the notebook with outputs cleared")
    suffix = f"t{os.getpid()}_{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("LOCMAP_WALKTHROUGH_SUFFIX", suffix)
    settings = load_settings()
    url = make_url(resolve_url(settings.database_url, settings.data_dir)).set(
        database=f"locmap_walkthrough_{suffix}").render_as_string(hide_password=False)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    try:
        client.execute()
    finally:
        drop_database(url)
    text = _outputs_text(nb)
    assert "Eastbrook Library: rate ratio vs ring = " in text
    assert "95% CI" in text
    assert "dropped locmap_walkthrough_" in text
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
