"""The divergence chapter's prose that names a protocol (notebooks/10-divergence).

The chapter reads the runs of one protocol of the ``replicate`` profile, archive v1 or the
protocol-v2 runs (:func:`nnrnn.evidence.chapter_protocol` picks, never both). What that protocol's
pilot, divergence screen and stage 2 were, the parts' introductions and the figures' captions
are written here from :data:`nnrnn.replicate.PROTOCOLS`, so that the page names the design of the
runs it shows, whichever they are: :func:`design` gives the phrases, :func:`texts` the Markdown.

Examples:
    >>> design("v1")["pilot"]
    "one seed, 3, which stage 2 also uses; one epoch; two scales per initializer × the paper's 11 learning rates"
    >>> design("v2")["stage2"]
    'seeds 1-6 on every task, for at most 100 epochs on copy, 25 on addition and 20 on psMNIST'
    >>> design("v1")["stage2"]
    'copy at seeds 1-3 for at most 100 epochs, addition at seeds 1-6 for at most 10, psMNIST at seeds 1-6 for at most 20'
    >>> design("v2")["screen"].startswith("each initializer's three best candidates")
    True
"""

from __future__ import annotations

from .. import divergence as _divergence
from .. import replicate as _replicate
from .. import validate

__all__ = ["design", "texts"]

_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_TASK_NAMES = {"copy": "copy", "addition": "addition", "psmnist": "psMNIST"}


def _n(k: int, noun: str) -> str:
    return f"{_WORDS.get(k, str(k))} {noun}{'s' if k != 1 else ''}"


def _seeds(seeds) -> str:
    """``"seed 3"``, ``"seeds 101 and 102"``, ``"seeds 1-6"``."""
    s = sorted(int(x) for x in seeds)
    if len(s) == 1:
        return f"seed {s[0]}"
    if len(s) > 2 and s == list(range(s[0], s[-1] + 1)):
        return f"seeds {s[0]}-{s[-1]}"
    return "seeds " + ", ".join(map(str, s[:-1])) + f" and {s[-1]}"


def design(protocol: str = "v1") -> dict[str, str]:
    """The phrases that name ``protocol``'s runs on the page: ``name`` ("protocol v1"), ``runs`` (the
    run set, as the banner names it), ``pilot`` (seeds, epochs, scales and learning rates),
    ``pilot_seeds``, ``pilot_epochs``, ``screen`` (its divergence screen; "" where it has none),
    ``stages``, ``stage2`` (seeds and budget per task) and ``page`` (the page of its verdicts, a
    Markdown link)."""
    p = _replicate.PROTOCOLS[validate.choice(protocol, "protocol", tuple(_replicate.PROTOCOLS))]
    grid = _replicate.pilot_grid(_replicate.TASKS[0], p)
    epochs, n_scales = grid.configs()[0].epochs, len(next(iter(p.scales.values())))
    reused = set(p.pilot_seeds) & {int(s) for spec in p.stage2.values() for s in spec["seeds"]}
    seeds = " and ".join(map(str, p.pilot_seeds)) + (", which stage 2 also uses" if reused else ", which stage 2 does not use")
    pilot = (f"{_n(len(p.pilot_seeds), 'seed')}, {seeds}; {_n(epochs, 'epoch')}; {_n(n_scales, 'scale')} per "
             f"initializer × the paper's {_n(len(grid.lrs), 'learning rate')}")
    screen = (f"each initializer's {_WORDS.get(p.screen, p.screen)} best candidates trained for {_n(p.screen_epochs, 'epoch')} "
              f"at {'both' if len(p.pilot_seeds) == 2 else 'the'} pilot seeds, and the next ones where all of them diverged"
              if p.screen else "")
    per_task = [(_TASK_NAMES[t], _seeds(p.stage2[t]["seeds"]), p.stage2[t]["base"]["epochs"]) for t in _replicate.TASKS]
    if len({s for _, s, _ in per_task}) == 1:  # one set of seeds: name it once
        (t0, s0, e0), *rest = per_task
        stage2 = (f"{s0} on every task, for at most {e0} epochs on {t0}, "
                  + ", ".join(f"{e} on {t}" for t, _, e in rest[:-1]) + (" and " if len(rest) > 1 else "")
                  + "".join(f"{e} on {t}" for t, _, e in rest[-1:]))
    else:
        (t0, s0, e0), *rest = per_task
        stage2 = ", ".join([f"{t0} at {s0} for at most {e0} epochs", *(f"{t} at {s} for at most {e}" for t, s, e in rest)])
    v1 = p.name == "v1"
    return {"name": f"protocol {p.name}", "runs": "archive v1" if v1 else "the protocol-v2 runs", "pilot": pilot,
            "pilot_seeds": _seeds(p.pilot_seeds), "pilot_epochs": _n(epochs, "epoch"), "screen": screen,
            "stages": "pilot, divergence screen, stage 2" if p.screen else "pilot, stage 2", "stage2": stage2,
            "page": "the [page of archive v1](00-results-v1)" if v1 else "the [results page](00-results)"}


def texts(protocol: str = "v1") -> dict[str, str]:
    """The chapter's text that depends on ``protocol``: ``reads`` (the runs it reads),
    ``overview_screen`` (what its part on the divergence screen shows), ``maps_lead`` (how the
    summary of the pilots begins), ``maps_intro`` and ``maps_caption`` (the pilots' stability maps),
    ``screen_intro`` and ``screen_caption`` (the divergence screen; the caption is "" where the
    protocol has none), ``stage2_intro``, ``rho_caption``, ``henrici_caption`` and ``km_caption``
    (the stage-2 runs)."""
    d = design(protocol)
    n_seeds = len(_replicate.PROTOCOLS[protocol].pilot_seeds)
    name, runs, both = d["name"], d["runs"], "both" if n_seeds == 2 else "its"
    cells = (f"Each cell is one setting, coloured by the worse outcome of its {_WORDS.get(n_seeds, n_seeds)} seeds and "
             "shaded by its earliest divergence (our choice: the protocol never selects a setting that diverged on either "
             "seed); a dot marks a setting whose seeds' outcomes differ." if n_seeds > 1 else "Each cell is one run.")
    screen = d["screen"]
    return {
        "reads": f"{runs} ({d['stages']})",
        "overview_screen": ("the divergence screen: which of the pilot's best candidates diverged when trained for longer, "
                            "and after how many updates" if screen else
                            f"{name} had no divergence screen: a setting's one test before stage 2 was its pilot"),
        "maps_lead": ("Settings that diverged in the pilots" + (f" on either of {d['pilot_seeds']}" if n_seeds > 1 else "")
                      + ", per initializer: "),
        "maps_intro": (
            f"Each benchmark's pilot ({name}: {d['pilot']}, at the paper's sequence lengths; see {d['page']}) trained every "
            "initializer at each of its settings. We class each run by its outcome (`nnrnn.divergence.outcome`, our "
            f"classes): **success** (the paper's criterion), **at baseline** (final loss within "
            f"{100 * _divergence.AT_BASELINE:g} % of the random baseline, or above it), **below baseline**, or "
            f"**diverged**, shaded by how many updates it survived. {cells}"),
        "maps_caption": (
            f"The pilots' stability maps of {name} ({d['pilot']}), computed by `nnrnn.divergence.pilot_outcomes` from "
            f"{runs}: learning rate against scale per task and initializer. {cells} A diverged cell is shaded by the number "
            "of updates it survived (colour bar). The paper reports no divergence and no per-setting outcomes; its Fig. 3 "
            "shows the best run of each initializer."),
        "screen_intro": (
            f"A pilot run lasts {d['pilot_epochs']}; stage 2 trains for many. {name.capitalize()} therefore screens the "
            f"pilot's candidates before it selects one: {screen}. A candidate that diverges there is not selected. Every "
            f"screened candidate finished its pilot without diverging at {both} {d['pilot_seeds']}, so a divergence here "
            "is one that the pilot was too short to see." if screen else
            f"{name.capitalize()} had no divergence screen: a setting's one test before stage 2 was its pilot "
            f"({d['pilot']}), so a setting that diverges only later was found in stage 2 itself (below)."),
        "screen_caption": (
            f"The divergence screen of {name}, read from {runs} by `nnrnn.divergence.screen_outcomes`: {screen}. Each row "
            "is a candidate (its scale and learning rate; bold: the one selected for stage 2), with one line per pilot "
            f"seed ({d['pilot_seeds']}) from update 0 to its last update, ending in a cross where it diverged; the dashed "
            "line marks the end of the pilot's run. The paper ran no screen." if screen else ""),
        "stage2_intro": (
            f"The stage-2 runs of {name} ({runs}; each initializer's selected setting: {d['stage2']}) record $\\rho(W)$ "
            "and $d(W)$ at every validation point."),
        "rho_caption": (
            f"Spectral radius $\\rho(W)$ of each stage-2 run's recurrent matrix at its validation points ({name}: "
            f"{d['stage2']}), read from {runs} by `nnrnn.divergence.trajectories`; a cross marks the last point of a run "
            "that then diverged. The paper reports no trajectories."),
        "henrici_caption": (
            f"Henrici's departure from normality $d(W)$ of the same stage-2 runs of {name} (`nnrnn.analysis.henrici`, "
            "recorded during training). The paper's Table 2 gives $d(W)$ only after training, for successful identity and "
            "orthogonal networks on addition and psMNIST (chapter 8)."),
        "km_caption": (
            f"Time to divergence of the stage-2 runs of {name} ({d['stage2']}), read from {runs}, per initializer "
            "(Kaplan-Meier estimate, `nnrnn.divergence.survival`; ticks: runs censored at their last update). The paper "
            "reports no divergence."),
    }
