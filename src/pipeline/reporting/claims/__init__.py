"""Claims: every finding of both papers, checked against our runs over seeds.

A *claim* is one finding a paper states, declared in its paper file (``papers/*.yaml``) under ``claims:``
(read with :func:`read_catalogue`)::

    - id: bb-mnrl-sts                       # unique
      paper: Beyond BERT                    # default: the paper file's `paper`
      section: "5.4"                        # where the paper states it (cite)
      statement: "MNRL ... STS dev correlation increased by ~0.1-0.2"
      metric: sts_corr                      # see METRICS below
      split: dev                            # dev | test
      better: full-model-mnrladddata3-anneal3600-60-1e-05-cos      # one model or a list (a group)
      worse: full-model-anneal3600-60-1e-05-cos                    # one model or a list
      direction: 1                          # the sign the paper reports for better - worse: 1, -1 or 0
      paper_values: {better: table2, worse: table2, difference: [0.1, 0.2]}
      # optional: kind (pairwise | factor), combine {better, worse: mean | max | min}, min_effect,
      #           test (difference | equivalence | non-inferiority), title (the finding in a few words),
      #           accepts (the decided verdicts that agree with the finding), note,
      #           status (declared | not-declared), needs (for not-declared claims: what would check it)

``paper_values`` cite the paper's numbers where a table prints them: a table name (both sides), or per side
a table name (every model of the side, its cell for the claim's metric: :func:`table_value`) or
``{model: table}``; a number only where no table holds it (``difference``: a difference the text states).

``better`` is the side the finding is about (the method the paper favours, or the treatment), ``worse`` the
reference; ``direction`` is the sign the paper reports for ``better - worse`` (1: higher, -1: lower, e.g. a
shorter training time, 0: "about the same"). A side that lists several models is a group: its score at each
seed is the ``combine`` (default ``mean``; ``max``: "beats the best of them", ``min``: "every one of them")
of its models' scores at that seed. ``kind: factor`` compares two factors instead of two models: each side
lists the levels of one factor (e.g. LoRA target sets vs LoRA ranks), its statistic at each seed is the
range (max - min) of its levels' scores, and ``direction: 1`` says the ``better`` factor moves the metric
more. ``test``: ``difference`` (the default for direction +-1), ``equivalence`` (direction 0, its only
test), ``non-inferiority`` ("no negative impact": direction +-1; an ``accepts`` list naming the former
``within noise`` reads as this). ``status: not-declared`` lists a finding no declared experiment can check
(``needs`` names what would); it gets no verdict and no numbers.

Metrics (:data:`METRICS`): the task metrics ``sst_acc, para_acc, sts_corr, cfimdb_acc`` and ``overall`` on
the claim's split; ``train_<m>`` (training-set score at the best epoch), ``gap_<m>`` (``train_<m> - <m>``:
over-fitting), ``time_s`` (run.json's ``wall_seconds``: the run's wall time summed over its attempts, as in
the methods tables), ``memory_gib`` (peak memory), ``epoch_seconds`` (seconds per training epoch);
``score`` / ``train_score`` / ``gap`` stand for the task metric of each model's single task (second study:
one task per run). Costs (``time_s, memory_gib, epoch_seconds``) are compared as natural logarithms, so
their difference is a log ratio (ln 2 = twice as long).

Verdict rule (:func:`compare`, :func:`claims_frame`; stated at the top of ``claims.md`` by
:func:`rule_text`). Seeds are paired: seed k of every compared model shares the data subset, the head
initialisation and the batch order, so per seed k ``d_k = better_k - worse_k``. A side with one value (the
builtin ``random`` and ``zero-shot`` baselines do not train: one value serves every seed) is a constant
``c``: ``d_k = better_k - c``, and the paired interval is the one-sample t interval of those ``d_k``. Over n
paired seeds: the 95% interval ``mean(d) +- t(0.975, n-1) * s_d / sqrt(n)``; ``p``: the two-sided paired t
test of ``mean d`` = the test's reference (0; ``-m`` in the paper's direction; ``-m`` and ``+m``, the larger
p), so ``p < 0.05`` exactly when the interval excludes it. ``m``: the claim's ``min_effect`` (default 0.03
for scores, ln 1.1 for costs).

* ``holds`` / ``reversed`` (difference): the interval excludes 0 on the paper's / the other side; where the
  paper states a magnitude or range (``paper_values.difference``) the detail says ``as reported`` (the
  interval overlaps it), ``smaller than reported`` or ``larger than reported``.
* ``same`` / ``differs`` (equivalence): the interval lies inside (-m, +m) / wholly outside it.
* non-inferiority: ``holds`` when the interval's bound against the paper's direction stays above ``-m``,
  ``reversed`` when the whole interval is beyond ``-m``.
* ``inconclusive``: the interval contains the reference; the detail gives the minimum detectable effect
  (:func:`mde`: 80% power, two-sided 0.05, ``(t(0.975, n-1) + t(0.8, n-1)) * s_d / sqrt(n)``) and the seeds
  that would detect the paper's own d at the observed ``s_d`` (:func:`seeds_needed`).
* ``needs seeds``: fewer than 2 paired seeds; the point difference is shown, no verdict is drawn.
* ``untestable at this scale``: the compared runs have the same settings at this scale
  (:func:`same_settings`); or a compared trained model's seed-0 run did not learn a task the claim reads
  (:func:`not_learned`: the ``learned`` flags of its dev metrics file,
  :func:`pipeline.evaluation.metrics.learned_flags`); or the cost metric does not measure what the paper
  measured (:func:`not_measured`: memory that is not CUDA's peak, times of CPU jobs or of runs on different
  hardware); or a compared split has no labels.
* ``not declared``: no declared experiment checks it.

``agrees`` is ``yes`` / ``no`` for the decided verdicts (holds, reversed, same, differs): whether the verdict
is in ``accepts`` (default ``holds``; ``same`` for equivalence); blank otherwise. Holm's adjustment
(:func:`holm`) runs over every claim with a p-value; the summary line of ``claims.md`` says how many decided
verdicts survive it at 0.05.
"""

from pipeline.reporting.claims.catalogue import *  # noqa: F403
from pipeline.reporting.claims.report import *  # noqa: F403
from pipeline.reporting.claims.verdict import *  # noqa: F403
