"""Small custom-painted widgets (QPainter only, no plotting library): bar chart, heat map."""
