"""What turns stored runs into a page of the book: the top floor of the package.

* :mod:`nnrnn.pages.settings`: what a sweep or a list of language-model runs trains, beside the
  paper's settings (:func:`~nnrnn.pages.settings.settings_table`).
* :mod:`nnrnn.pages.claims`: the results page's claim table, one row per claim of the paper with
  its verdict (:func:`~nnrnn.pages.claims.claims`).

Nothing below this package imports it. Its modules are imported by name
(``from nnrnn.pages import claims``); importing the package itself loads none of them.
"""
