"""Every glue key a chapter's prose quotes whose code builds it rather than spells it out, per chapter.

A ``{glue:text}`nb04_success_chain``` in a page's Markdown names a value that code glued under a
key put together at run time (``report.glue_all("nb04", values)``, ``report.glue(f"nb08_d_{task}_{i}", ...)``),
so a grep for the key found nothing. This module spells each such key out once, in the tuple of
its chapter, with a comment naming the code that glues it: a grep for a key in a page finds it
here or as a literal at its glue call (``tests/test_glue_keys.py`` checks both ways, on every
notebook: each key of the prose is a literal in the package or in the chapter's code, and each
key listed here is quoted by its chapter). Keys glued by a literal are not repeated here.
"""

from __future__ import annotations

__all__ = ["KEYS"]

#: chapter (notebook stem) -> the computed glue keys its prose quotes.
KEYS: dict[str, tuple[str, ...]] = {
    "01-fisher-memory": (  # the chapter's loop over networks (nb01_jtot_<network>)
        "nb01_jtot_chain", "nb01_jtot_fb_chain", "nb01_jtot_identity", "nb01_jtot_orthogonal",
    ),
    "02-nonlinear-decoding": (  # the chapter's settings dict and its loops over networks and nonlinearities
        "nb02_capacity_elu_chain", "nb02_capacity_elu_orthogonal", "nb02_elu_chain_klong",
        "nb02_elu_orthogonal_klong", "nb02_k_long", "nb02_k_short", "nb02_lam", "nb02_n_test", "nb02_n_train",
        "nb02_noise", "nb02_noisy_chain_kshort", "nb02_noisy_chain_kshort_theory",
        "nb02_noisy_orthogonal_kshort", "nb02_noisy_orthogonal_kshort_theory", "nb02_profile", "nb02_repeats",
        "nb02_ridge", "nb02_signal_std",
    ),
    "03-initializers": (  # the chapter's settings dict (nb03_<setting>)
        "nb03_N", "nb03_alpha", "nb03_beta", "nb03_fb_alpha", "nb03_n_show", "nb03_profile",
    ),
    "04-copy": (
        # nnrnn.pages.live_sweep.BenchmarkSummary.values, glued by live.glue("nb04")
        "nb04_T", "nb04_T_paper", "nb04_baseline", "nb04_baseline_paper", "nb04_best_init",
        "nb04_best_lr_chain", "nb04_best_lr_orthogonal", "nb04_best_scale_chain", "nb04_best_scale_orthogonal",
        "nb04_best_val_chain", "nb04_best_val_orthogonal", "nb04_comparison", "nb04_n_diverged", "nb04_n_runs",
        "nb04_n_seeds", "nb04_p_value", "nb04_paper_runs_chain", "nb04_paper_runs_fb_chain",
        "nb04_paper_runs_identity", "nb04_paper_runs_orthogonal", "nb04_paper_success_chain",
        "nb04_paper_success_fb_chain", "nb04_paper_success_identity", "nb04_paper_success_orthogonal",
        "nb04_profile", "nb04_runs_chain", "nb04_runs_fb_chain", "nb04_runs_identity", "nb04_runs_nonnormal",
        "nb04_runs_normal", "nb04_runs_orthogonal", "nb04_significance", "nb04_success_chain",
        "nb04_success_fb_chain", "nb04_success_identity", "nb04_success_nonnormal", "nb04_success_normal",
        "nb04_success_orthogonal", "nb04_verdict",
        # nnrnn.pages.benchmarks.ReplicateSection.values, glued by rep.glue("nb04_rep")
        "nb04_rep_T", "nb04_rep_archive", "nb04_rep_budget_pct", "nb04_rep_epochs", "nb04_rep_n_seeds",
        "nb04_rep_n_stage2", "nb04_rep_n_stage2_planned", "nb04_rep_verdict", "nb04_rep_verdict_source", "nb04_rep_loss_verdict",
    ),
    "05-addition": (
        # nnrnn.pages.live_sweep.BenchmarkSummary.values, glued by live.glue("nb05")
        "nb05_T", "nb05_T_paper", "nb05_baseline", "nb05_best_init", "nb05_best_lr_chain",
        "nb05_best_lr_identity", "nb05_best_scale_chain", "nb05_best_scale_identity", "nb05_best_val_chain",
        "nb05_best_val_identity", "nb05_comparison", "nb05_n_diverged", "nb05_n_runs", "nb05_n_seeds",
        "nb05_p_value", "nb05_profile", "nb05_runs_chain", "nb05_runs_fb_chain", "nb05_runs_identity",
        "nb05_runs_nonnormal", "nb05_runs_normal", "nb05_runs_orthogonal", "nb05_significance",
        "nb05_success_chain", "nb05_success_fb_chain", "nb05_success_identity", "nb05_success_nonnormal",
        "nb05_success_normal", "nb05_success_orthogonal", "nb05_threshold",
        "nb05_verdict",
        # nnrnn.pages.benchmarks.ReplicateSection.values, glued by rep.glue("nb05_rep")
        "nb05_rep_T", "nb05_rep_archive", "nb05_rep_budget_pct", "nb05_rep_epochs", "nb05_rep_n_seeds",
        "nb05_rep_n_stage2", "nb05_rep_n_stage2_planned", "nb05_rep_verdict", "nb05_rep_verdict_source", "nb05_rep_loss_verdict",
    ),
    "06-psmnist": (
        # nnrnn.pages.live_sweep.BenchmarkSummary.values, glued by live.glue("nb06") and psmnist_profile_values, accuracy_values (report.glue_all("nb06", ...))
        "nb06_T", "nb06_T_paper", "nb06_acc_best", "nb06_acc_best_label", "nb06_baseline", "nb06_best_init",
        "nb06_best_val", "nb06_best_val_identity", "nb06_best_val_orthogonal", "nb06_comparison",
        "nb06_demo_lr_ranks", "nb06_demo_lrs", "nb06_demo_n_seeds", "nb06_demo_n_train", "nb06_demo_n_val",
        "nb06_demo_scales", "nb06_demo_updates", "nb06_hidden", "nb06_n_diverged", "nb06_n_runs",
        "nb06_n_seeds", "nb06_n_test", "nb06_p_value", "nb06_paper_n_lrs", "nb06_paper_runs", "nb06_profile",
        "nb06_runs_chain", "nb06_runs_identity", "nb06_runs_nonnormal", "nb06_runs_normal",
        "nb06_runs_orthogonal", "nb06_significance", "nb06_smoke_n_test", "nb06_smoke_n_train",
        "nb06_success_chain", "nb06_success_identity", "nb06_success_nonnormal", "nb06_success_normal",
        "nb06_success_orthogonal", "nb06_test_acc_chain", "nb06_test_acc_fb_chain",
        "nb06_test_acc_identity", "nb06_test_acc_orthogonal", "nb06_threshold", "nb06_verdict",
        # nnrnn.pages.benchmarks.ReplicateSection.values, glued by rep.glue("nb06_rep")
        "nb06_rep_T", "nb06_rep_archive", "nb06_rep_budget_pct", "nb06_rep_epochs", "nb06_rep_hidden",
        "nb06_rep_n_seeds", "nb06_rep_n_stage2", "nb06_rep_n_stage2_planned", "nb06_rep_verdict", "nb06_rep_verdict_source", "nb06_rep_loss_verdict",
    ),
    "07-language-modelling": (  # nnrnn.pages.language.LMReplicateSection.values, glued by rep.glue("nb07_rep")
        "nb07_rep_archive", "nb07_rep_epochs", "nb07_rep_n_planned", "nb07_rep_n_stored", "nb07_rep_verdict",
    ),
    "08-trained-weights": (  # the chapter's loops over tasks and initializers (Table 2, asymmetry)
        "nb08_asym_addition_identity_trained", "nb08_asym_addition_orthogonal_trained",
        "nb08_asym_addition_orthogonal_untrained", "nb08_asym_nopulse_addition_identity_trained",
        "nb08_asym_nopulse_psmnist_identity_trained", "nb08_asym_psmnist_identity_trained",
        "nb08_asym_psmnist_orthogonal_trained", "nb08_asym_psmnist_orthogonal_untrained",
        "nb08_d_addition_identity", "nb08_d_addition_orthogonal", "nb08_d_psmnist_identity",
        "nb08_d_psmnist_orthogonal", "nb08_paper_d_addition_identity", "nb08_paper_d_addition_orthogonal",
        "nb08_paper_d_psmnist_identity", "nb08_paper_d_psmnist_orthogonal",
    ),
    "09-lstm": (  # LMReplicateSection.values (rep.glue("nb09_rep")) and the chapter's loops over gates
        "nb09_bump_g", "nb09_bump_g_init", "nb09_mono_f", "nb09_mono_i", "nb09_mono_o", "nb09_rep_archive",
        "nb09_rep_epochs", "nb09_rep_n_planned", "nb09_rep_n_stored", "nb09_rep_verdict",
    ),
}
