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
      #           accepts (verdicts consistent with the finding), note, status (declared | not-declared),
      #           needs (for not-declared claims: the experiment that would be needed)

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
more. ``status: not-declared`` lists a finding no declared experiment can check (``needs`` names what
would); it gets no verdict and no numbers.

Metrics (:data:`METRICS`): the task metrics ``sst_acc, para_acc, sts_corr, cfimdb_acc`` and ``overall`` on
the claim's split; ``train_<m>`` (training-set score at the best epoch), ``gap_<m>`` (``train_<m> - <m>``:
over-fitting), ``time_s`` (training job seconds), ``memory_gib`` (peak memory), ``epoch_seconds`` (seconds
per training epoch); ``score`` / ``train_score`` / ``gap`` stand for the task metric of each model's single
task (second study: one task per run). Costs (``time_s, memory_gib, epoch_seconds``) are compared as
natural logarithms, so their difference is a log ratio (ln 2 = twice as long).

Verdict rule (:func:`compare`; stated again at the top of ``claims.md`` by :func:`rule_text`). Let
``d = mean(better) - mean(worse)`` over seeds and ``m`` the claim's minimum effect (default 0.03 for scores,
i.e. 3 points of accuracy or 0.03 of correlation; ln 1.1, a 10% ratio, for costs).

* Both sides with >= 2 seeds: a Welch t interval at 95% for ``d`` (Welch-Satterthwaite degrees of freedom).
* One side with 1 seed, the other with n >= 2: that side's seed variance is unknown and is taken to equal
  the other side's (``se = s * sqrt(1/n + 1)``, n - 1 degrees of freedom): the interval is a t interval of
  a new run against the mean of n runs.
* Both sides with 1 seed, or no spread on either side: no interval; the point difference decides only when
  ``|d| >= m``.

Directional claims (``direction`` +-1): ``holds`` when the interval lies on the paper's side of 0,
``reversed`` when it lies on the other side, ``within noise`` when it contains 0; without an interval:
``holds``/``reversed`` by the sign of ``d`` when ``|d| >= m``, else ``within noise``. "About the same"
claims (``direction`` 0): ``holds`` when the interval lies inside [-m, m] (equivalence), ``reversed`` when
it lies wholly outside it, else ``within noise``; without an interval ``reversed`` when ``|d| >= m``, else
``within noise`` (one run cannot show equivalence). No correction for multiple comparisons: with dozens of
claims at 95%, a few verdicts on true null effects are expected to come out ``holds`` or ``reversed``.
A claim *agrees* with the paper when its verdict is in ``accepts`` (default: ``holds``; for direction 0 and
for "no negative impact" findings: ``holds`` and ``within noise``).
"""

from pipeline.reporting.claims.catalogue import *  # noqa: F403
from pipeline.reporting.claims.report import *  # noqa: F403
from pipeline.reporting.claims.verdict import *  # noqa: F403
