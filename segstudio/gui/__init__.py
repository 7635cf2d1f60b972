"""Desktop GUI (PySide6): main window, annotation canvas, panels.

Start with :func:`segstudio.gui.app.run`. Layout:

* ``app`` (QApplication, theme, settings), ``main_window`` (assembles everything),
  ``actions`` (menus, toolbars, shortcuts), ``start_page``, ``status_bar``;
* ``document`` (the open image, its mask, undo, journaling), ``persistence`` (autosave),
  ``loader`` (images read off the GUI thread), ``label_changes`` (label-set edits that rewrite masks),
  ``workers`` (thread pool helpers), ``settings``, ``theme``;
* ``canvas/`` (view, layers, tools) and ``panels/`` (dock widgets, registered by module).
"""

from segstudio.gui import qtfix as _qtfix  # noqa: E402,F401  (PySide6 6.12 emit() refcount bug)
