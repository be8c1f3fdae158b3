"""Pure analysis of peer networks on NetworkX: groups, connectors, adults of concern, places.

Nothing here imports Flask or SQLAlchemy: plain data in, plain data out. Start with
:func:`analyse_network`; the building blocks are re-exported for notebooks and tests.
"""

from locmap.network.analysis import NetworkAnalysis, analyse_network
from locmap.network.change import NetworkChange, network_change
from locmap.network.concern import NetworkConcerns, find_concerns
from locmap.network.connectors import Connectors, betweenness_centrality, find_connectors
from locmap.network.ego import EgoView, ego_view
from locmap.network.groups import PeerGroups, find_peer_groups, young_people_graph
from locmap.network.model import (
    PersonNode,
    PlaceNode,
    Presence,
    Tie,
    build_people_graph,
    build_presence_graph,
)
from locmap.network.places import PlaceNetwork, find_places, place_projection

__all__ = [
    "Connectors",
    "EgoView",
    "NetworkAnalysis",
    "NetworkChange",
    "NetworkConcerns",
    "PeerGroups",
    "PersonNode",
    "PlaceNetwork",
    "PlaceNode",
    "Presence",
    "Tie",
    "analyse_network",
    "betweenness_centrality",
    "build_people_graph",
    "build_presence_graph",
    "ego_view",
    "find_concerns",
    "find_connectors",
    "find_peer_groups",
    "find_places",
    "network_change",
    "place_projection",
    "young_people_graph",
]
