"""Risk terrain modelling: data-derived relative risk of nearby context features.

Following Caplan & Kennedy's risk terrain modelling (RTM), the locality is cut
into grid cells; for every feature layer (fast-food outlets, bus stops,
off-licences...) each cell gets its distance to the nearest feature, the number
of features within a radius, and a flag for "within the feature's influence
distance". Incident counts per cell are regressed on these covariates with
Poisson and negative-binomial GLMs; the exponentiated coefficient of a layer is
the relative risk of harm in cells exposed to it. These weights are
*data-derived* associations that sit beside, and never replace, the
practitioners' own weighting of safety factors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.spatial import cKDTree
from statsmodels.tools.sm_exceptions import PerfectSeparationError

__all__ = [
    "FeatureRisk",
    "RiskTerrainResult",
    "TerrainCovariates",
    "fit_risk_terrain",
    "terrain_covariates",
]


@dataclass(frozen=True)
class TerrainCovariates:
    """Per-cell covariates of each feature layer (arrays in cell order)."""

    influence_m: dict[str, float]
    radius_m: float
    distance_m: dict[str, NDArray[np.float64]]
    count_within: dict[str, NDArray[np.int64]]
    within_influence: dict[str, NDArray[np.bool_]]

    def design(self, kind: str = "within_influence") -> dict[str, NDArray[np.float64]]:
        """Return columns for :func:`fit_risk_terrain`.

        ``"within_influence"`` (RTM's binary exposure, the default),
        ``"count_within"`` or ``"distance_km"``.
        """
        if kind == "within_influence":
            return {k: v.astype(float) for k, v in self.within_influence.items()}
        if kind == "count_within":
            return {k: v.astype(float) for k, v in self.count_within.items()}
        if kind == "distance_km":
            return {k: v / 1000.0 for k, v in self.distance_m.items()}
        raise ValueError(
            f"kind must be within_influence, count_within or distance_km, got {kind!r}"
        )


@dataclass(frozen=True)
class FeatureRisk:
    """Relative risk of one covariate: ``exp(beta)`` with its 95 % interval."""

    feature: str
    relative_risk: float
    ci_low: float
    ci_high: float
    p_value: float
    coefficient: float
    std_error: float


@dataclass(frozen=True)
class RiskTerrainResult:
    """Fitted risk terrain model and the relative risk of each feature."""

    model: str
    features: tuple[FeatureRisk, ...]
    baseline_rate: float
    n_cells: int
    n_incidents: int
    aic_poisson: float
    aic_negative_binomial: float | None
    alpha: float | None
    dispersion: float
    lr_p_value: float | None
    selection: str
    source: str = "data-derived"
    caution: str = (
        "Associations in this locality's data, not causes; read beside the "
        "practitioners' weighting of safety factors."
    )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)


def terrain_covariates(
    cell_centroids: ArrayLike,
    features: Mapping[str, ArrayLike],
    *,
    influence_m: float | Mapping[str, float],
    radius_m: float | None = None,
) -> TerrainCovariates:
    """Distance, count and influence flag of each feature layer for each cell.

    Parameters
    ----------
    cell_centroids : array_like, shape (n, 2)
        Cell centroids in a projected CRS in metres (e.g. EPSG:27700).
    features : mapping of str to array_like of shape (m, 2)
        Feature points per layer, same CRS. An empty layer gives infinite
        distances and all-False flags.
    influence_m : float or mapping of str to float
        Influence distance per layer (RTM's "spatial influence").
    radius_m : float, optional
        Radius for ``count_within``; defaults to the largest influence distance.

    Returns
    -------
    TerrainCovariates

    Examples
    --------
    >>> cov = terrain_covariates([[0, 0], [1000, 0]], {"fast_food": [[300, 400]]},
    ...                          influence_m=600)
    >>> cov.distance_m["fast_food"].round(1).tolist(), cov.within_influence["fast_food"].tolist()
    ([500.0, 806.2], [True, False])

    Notes
    -----
    Uses ``scipy.spatial.cKDTree`` (nearest neighbour and ball counts); a
    feature exactly at the influence distance counts as within. Coordinates
    that look like longitude/latitude trigger a ``UserWarning``: distances in
    degrees are meaningless as metres.

    References
    ----------
    Caplan, J.M. & Kennedy, L.W. (2016) Risk Terrain Modeling: Crime Prediction
    and Risk Reduction. University of California Press, ch. 3.
    """
    xy = np.asarray(cell_centroids, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0:
        raise ValueError(f"cell_centroids must have shape (n, 2), got {xy.shape}")
    if not np.all(np.isfinite(xy)):
        raise ValueError("cell_centroids must be finite")
    if not features:
        raise ValueError("features must name at least one layer")
    layers = {name: np.asarray(p, dtype=float).reshape(-1, 2) for name, p in features.items()}
    for name, pts in layers.items():
        if not np.all(np.isfinite(pts)):
            raise ValueError(f"feature layer {name!r} has non-finite coordinates")
    infl = (
        {name: float(influence_m[name]) for name in layers}
        if isinstance(influence_m, Mapping)
        else dict.fromkeys(layers, float(influence_m))
    )
    if any(not (math.isfinite(v) and v > 0) for v in infl.values()):
        raise ValueError("influence distances must be positive")
    radius = max(infl.values()) if radius_m is None else float(radius_m)
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius_m must be positive, got {radius_m!r}")
    if _looks_geographic(xy, *layers.values()):
        warnings.warn(
            "coordinates look like longitude/latitude; risk terrain needs a projected "
            "CRS in metres", UserWarning, stacklevel=2,
        )

    distance, count, within = {}, {}, {}
    n = xy.shape[0]
    for name, pts in layers.items():
        if pts.shape[0] == 0:
            distance[name] = np.full(n, np.inf)
            count[name] = np.zeros(n, dtype=np.int64)
        else:
            tree = cKDTree(pts)
            distance[name] = tree.query(xy, k=1)[0].astype(float)
            count[name] = np.asarray(
                tree.query_ball_point(xy, r=radius, return_length=True), dtype=np.int64
            )
        within[name] = distance[name] <= infl[name]
    return TerrainCovariates(infl, radius, distance, count, within)


def fit_risk_terrain(
    counts: ArrayLike,
    covariates: Mapping[str, ArrayLike],
    *,
    model: str = "auto",
) -> RiskTerrainResult:
    """Fit Poisson and negative-binomial risk terrain models; report relative risks.

    Parameters
    ----------
    counts : array_like of int, shape (n,)
        Incidents per cell.
    covariates : mapping of str to array_like, shape (n,)
        One column per feature (e.g. ``TerrainCovariates.design()``).
    model : {"auto", "poisson", "negative_binomial"}
        ``"auto"`` keeps the model with the lower AIC (see Notes).

    Returns
    -------
    RiskTerrainResult

    Raises
    ------
    ValueError
        On invalid counts, covariates or model, or when the Poisson model does not
        converge (a layer with no incidents, or all of them, in its exposed cells).

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> near = rng.random(4000) < 0.25
    >>> y = rng.poisson(0.4 * np.where(near, 3.0, 1.0))
    >>> res = fit_risk_terrain(y, {"fast_food": near})
    >>> ff = res.features[0]
    >>> res.model, round(ff.relative_risk, 2), ff.ci_low < 3.0 < ff.ci_high
    ('poisson', 2.98, True)

    Notes
    -----
    Both models are fitted by maximum likelihood (``statsmodels.Poisson`` and
    ``statsmodels.NegativeBinomial``, NB2: variance ``mu + alpha mu^2``). The
    negative binomial costs one parameter (alpha) and wins under AIC only when
    overdispersion is real; RTM recommends it for that reason. The likelihood
    ratio test of alpha = 0 (p halved: alpha sits on the boundary) and the
    Pearson dispersion of the Poisson fit are reported alongside. If the NB fit
    does not converge (typical with alpha ~ 0) the Poisson model is kept.
    Intervals are Wald: ``exp(beta +- 1.96 se)``.

    References
    ----------
    Caplan, J.M., Kennedy, L.W. & Miller, J. (2011) Risk terrain modeling.
    Justice Quarterly 28(2), 360-381.
    Cameron, A.C. & Trivedi, P.K. (2013) Regression Analysis of Count Data,
    2nd ed., sec. 3.4 (NB2) and 3.5 (testing for overdispersion).
    """
    y = np.asarray(counts)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y < 0) or np.any(y != np.round(y)):
        raise ValueError("counts must be non-negative integers")
    y = y.astype(float)
    if y.sum() == 0:
        raise ValueError("no incidents: relative risks are undefined")
    if model not in ("auto", "poisson", "negative_binomial"):
        raise ValueError(f"model must be auto, poisson or negative_binomial, got {model!r}")
    if not covariates:
        raise ValueError("covariates must name at least one feature")
    names = list(covariates)
    cols = []
    for name in names:
        col = np.asarray(covariates[name], dtype=float)
        if col.shape != y.shape or not np.all(np.isfinite(col)):
            raise ValueError(f"covariate {name!r} must be finite with shape {y.shape}")
        if np.all(col == col[0]):
            raise ValueError(f"covariate {name!r} is constant: its risk cannot be estimated")
        cols.append(col)
    x = sm.add_constant(np.column_stack(cols), has_constant="add")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise ValueError("covariates are collinear: drop or merge features")
    if y.size <= x.shape[1] + 1:
        raise ValueError(f"need more than {x.shape[1] + 1} cells, got {y.size}")

    # Non-convergence is read from the fit (statsmodels' own switch turns its warning off:
    # silencing warnings would take the process-wide filters). Typically a layer whose
    # exposed cells have no incidents at all: its coefficient runs off to -inf.
    # Perfect prediction (one small layer whose cells hold every incident) is raised by the
    # model itself (its own switch, not the warning filters) and refused like non-convergence.
    poisson = sm.Poisson(y, x)
    poisson.raise_on_perfect_prediction = True
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        try:
            pois = poisson.fit(disp=0, warn_convergence=False)
        except PerfectSeparationError as exc:
            raise ValueError("the Poisson model predicts every cell exactly: a feature layer "
                             "explains all incidents; drop or merge it") from exc
    if not pois.mle_retvals.get("converged", False) or not np.all(np.isfinite(pois.bse)):
        raise ValueError("the Poisson model did not converge: a feature layer may have no "
                         "incidents (or all of them) in its cells; drop or merge it")
    dispersion = float(np.sum((y - pois.predict()) ** 2 / pois.predict()) / (y.size - x.shape[1]))
    nb = _fit_nb(y, x, pois) if model != "poisson" else None
    lr_p = None
    if nb is not None:
        lr = max(0.0, 2.0 * (nb.llf - pois.llf))
        lr_p = 0.5 * float(stats.chi2.sf(lr, 1))
    if model == "negative_binomial" and nb is None:
        raise ValueError("the negative binomial model did not converge on these data")
    if model == "auto":
        chosen = "negative_binomial" if nb is not None and nb.aic < pois.aic else "poisson"
        selection = "lower AIC" if nb is not None else "negative binomial did not converge"
    else:
        chosen, selection = model, "requested"
    fit = pois if chosen == "poisson" or nb is None else nb
    params, bse, pvals = (np.asarray(a) for a in (fit.params, fit.bse, fit.pvalues))
    z = stats.norm.ppf(0.975)
    feats = tuple(
        FeatureRisk(
            feature=name,
            relative_risk=math.exp(params[i + 1]),
            ci_low=math.exp(params[i + 1] - z * bse[i + 1]),
            ci_high=math.exp(params[i + 1] + z * bse[i + 1]),
            p_value=float(pvals[i + 1]),
            coefficient=float(params[i + 1]),
            std_error=float(bse[i + 1]),
        )
        for i, name in enumerate(names)
    )
    return RiskTerrainResult(
        model=chosen,
        features=feats,
        baseline_rate=math.exp(params[0]),
        n_cells=int(y.size),
        n_incidents=int(y.sum()),
        aic_poisson=float(pois.aic),
        aic_negative_binomial=None if nb is None else float(nb.aic),
        alpha=None if nb is None else float(np.asarray(nb.params)[-1]),
        dispersion=dispersion,
        lr_p_value=lr_p,
        selection=selection,
    )


@dataclass(frozen=True)
class _NbFit:
    params: NDArray[np.float64]  # coefficients, then alpha
    bse: NDArray[np.float64]
    pvalues: NDArray[np.float64]
    llf: float
    aic: float


def _fit_nb(y: NDArray[np.float64], x: NDArray[np.float64],
            pois: Any) -> _NbFit | None:
    # With Poisson-like data alpha heads to 0 and the fit fails to converge or leaves a
    # Hessian that cannot be inverted; that outcome means "no overdispersion" and is
    # returned as None. It is read from the fit itself, never from warnings: silencing
    # those would take the process-wide warnings filters, which the threads of a web
    # process share. Hence statsmodels' own switches: no convergence warning, no Hessian
    # inverted inside the fit (it is checked and inverted here), and explicit start values
    # (without them statsmodels fits a preliminary Poisson model inside a
    # warnings.catch_warnings block).
    model = sm.NegativeBinomial(y, x, loglike_method="nb2")
    mu = pois.predict()
    alpha0 = float(((((y - mu) ** 2 / mu) - 1) / mu).sum() / pois.df_resid)
    # The start statsmodels would take: the Poisson coefficients and alpha from the
    # Cameron-Trivedi moment (at least 0.05), the latter already on the log scale the
    # optimiser works in (exp here, as statsmodels takes the log of a given start).
    start = np.append(np.asarray(pois.params), math.exp(max(0.05, alpha0)))
    # Overflow and log(0) on the way to alpha ~ 0 are outcomes judged below (numpy's
    # errstate is per thread and context in numpy >= 2.0: it is a context variable).
    with np.errstate(all="ignore"):
        try:
            res = model.fit(start_params=start, disp=0, maxiter=200, skip_hessian=True,
                            warn_convergence=False)
        except (np.linalg.LinAlgError, ValueError):
            return None
        if not res.mle_retvals.get("converged", False):
            return None
        params = np.asarray(res.params, dtype=float)
        # The information matrix as statsmodels checks and inverts it after its fit.
        info = -model.hessian(params)
        if not np.all(np.isfinite(info)) or np.linalg.eigvalsh(info).min() <= 0:
            return None
        bse = np.sqrt(np.diag(np.linalg.inv(info)))
        if not np.all(np.isfinite(bse)):
            return None
        pvalues = 2 * stats.norm.sf(np.abs(params / bse))  # alpha's entry is not used
    return _NbFit(params, bse, pvalues, float(res.llf), float(res.aic))


def _looks_geographic(*arrays: NDArray[np.float64]) -> bool:
    pts = np.vstack([a for a in arrays if a.size])
    return bool(
        np.all(np.abs(pts[:, 0]) <= 180)
        and np.all(np.abs(pts[:, 1]) <= 90)
        and np.ptp(pts, axis=0).max() < 2.0
    )
