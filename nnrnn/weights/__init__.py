r"""What training does to the recurrent weights: Table 2 and Fig. 5 of Orhan & Pitkow (2020).

This module reads trained networks from the run store (:mod:`nnrnn.sweep`), rebuilds each
network's *untrained* weights from its config, and aggregates two measures over networks,
computed by :mod:`nnrnn.analysis`:

* **Henrici's departure from normality** :math:`d(W)` (Henrici, 1962) of the recurrent matrix,
  before and after training (:func:`henrici_table`, :func:`table2`). The paper's Table 2 gives
  its mean ± s.e.m. over the *successful* identity- and orthogonal-initialized networks
  (:data:`PAPER_TABLE2`).
* **Hidden chains** (Fig. 5, after Rajan, Harvey & Tank 2016): drive the network with one input
  pulse, run it freely, order the units by the time of their peak response, and average
  :math:`W_{ij}` (from unit j to unit i) at each order difference ``i - j``: the mean of each
  diagonal of the reordered matrix, its *diagonal means* (:func:`network_diagonal_means`,
  :func:`aggregate_diagonal_means`). A feedforward chain hidden in ``W`` shows up as a bump at
  small positive ``i - j``.

**Choices the paper leaves open** are the fields of :class:`PulseSettings`: the input channel
that receives the pulse (default 0: the only input of psMNIST, the marker channel of addition),
its amplitude (1), the number of free steps (100, as the paper), and the jitter added to the
integer peak times to break ties (``U(0, 1e-3)`` steps, far below one step, so it only orders
units that peak at the same step). The pulse goes through the network's own input weights
``U`` and bias ``b``: :math:`h_0 = f(U x_0 + b)`, then :math:`h_t = f(W h_{t-1} + b)`. Units are
ordered by the peak of :math:`|h_t - h_t^{free}|`, the distance from the same network run
without the pulse (:func:`nnrnn.analysis.evoked_response`, the procedure of the LSTM analysis
too): the learned biases alone make units drift and peak, and that drift must not order them.
``network_diagonal_means(..., control=True)`` adds the control: the same procedure without a
pulse (amplitude 0), where the order is the random tie-break alone.

**Untrained weights** are rebuilt exactly as :func:`nnrnn.train.train` builds them
(:func:`initial_state`): :func:`nnrnn.models.model_for` with the generator
``nnrnn.tasks.stream_generator(seed, "init")``; nothing extra is stored per run.

**Which networks.** Table 2 and Fig. 5 use successful networks only. :func:`select_networks`
returns those; when an (task, initializer) pair has none — as can happen on the reduced
``demo`` profile — and ``fallback=True``, it returns the runs of that pair's best setting
instead, marked ``selection = "best (not successful)"`` so that tables and figures can say so.

The package's two modules: :mod:`nnrnn.weights.networks` (which networks: training or reading
them, selecting the successful ones, their weights before and after training) and
:mod:`nnrnn.weights.measures` (Henrici's index, the hidden chains, the chapter's analysis). Every
public name of both is importable from ``nnrnn.weights``.
"""

from __future__ import annotations

from .measures import (NO_PULSE, PAPER_TABLE2, PULSE, Analysis, PulseSettings, absent_pairs_sentence, aggregate_diagonal_means, analyse,
                       control_diagonal_means, diagonal_means_peak, henrici_table, network_diagonal_means,
                       normality_sentence, normality_summary, table2, table2_summary)
from .networks import (FALLBACK, INITS, SUCCESS, TASKS, Root, TrainedRuns, analysed_tasks, collect_runs, final_state,
                       initial_state, network_grids, nonlinearity_of, root_for, run_config, select_networks,
                       train_networks)

__all__ = ["analysed_tasks", "PAPER_TABLE2", "PulseSettings", "SUCCESS", "FALLBACK", "Root", "root_for", "run_config",
           "initial_state", "final_state", "nonlinearity_of", "select_networks", "henrici_table", "table2",
           "network_diagonal_means", "aggregate_diagonal_means", "control_diagonal_means", "PULSE", "NO_PULSE",
           "diagonal_means_peak", "TASKS", "INITS", "network_grids", "TrainedRuns", "train_networks", "collect_runs",
           "Analysis", "analyse", "normality_summary", "normality_sentence", "table2_summary", "absent_pairs_sentence"]
