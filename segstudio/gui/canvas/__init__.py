"""The annotation canvas: a QGraphicsView (``view``) with an image layer and a class-colour
overlay layer (``layers``) edited by pointer tools (``tools``)."""
