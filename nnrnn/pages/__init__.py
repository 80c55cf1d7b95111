"""What turns stored runs into a page of the book: the top floor of the package.

* :mod:`nnrnn.pages.report`: the chapters' plumbing: glue, tables, progress bars, run cards and
  the profile of a chapter's live part (:func:`~nnrnn.pages.report.live_profile`).
* :mod:`nnrnn.pages.settings`: what a sweep or a list of language-model runs trains, beside the
  paper's settings (:func:`~nnrnn.pages.settings.settings_table`).
* :mod:`nnrnn.pages.claims`: the results page's claim table, one row per claim of the paper with
  its verdict (:func:`~nnrnn.pages.claims.claims`); :mod:`nnrnn.pages.claims_view` shows it.
* :mod:`nnrnn.pages.live_sweep`: the live sweep of the benchmark chapters 4-6 (their Fig. 3
  analogue on the profile a reader reruns).
* :mod:`nnrnn.pages.benchmarks` and :mod:`nnrnn.pages.language`: the main result of chapters 4-6
  and of chapters 7 and 9, the ``replicate`` runs of the committed archive.
* :mod:`nnrnn.pages.weights_section`: chapter 8's Table 2 and Fig. 5 on the protocol-v2 runs, as the
  analysis plan judges them; :mod:`nnrnn.pages.divergence`: chapter 10's prose that names the
  protocol it reads.

Nothing below this package imports it (:mod:`nnrnn.book`, the build command, reads one constant
of its report). Its modules are imported by name (``from nnrnn.pages import claims``); importing
the package itself loads none of them.
"""
