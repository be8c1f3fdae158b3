"""Pure analysis of places: indicators, hot spots, risk terrain, context weighting, impact.

Nothing here imports Flask or SQLAlchemy: plain data in, plain data out.
"""
