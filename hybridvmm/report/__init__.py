"""``report``: one self-contained HTML page of a comparison, for a lecture or a lab sheet.

What ``compare`` prints (the prediction table and each divergence), drawn: per-mode bars of
simulated cycles, wall time, the share run directly and exits by cause; a timeline of the
exits in guest-instruction time; and the CFG around the sensitive sites and patches, one
function or neighbourhood per figure.  Everything is inline (SVG, CSS): the page loads
nothing.  The figures need the optional extra ``hybridvmm[report]`` (matplotlib, jinja2);
:func:`~hybridvmm.report.extras.require` says how to install it.

Modules: :mod:`.extras` (the optional imports), :mod:`.exits` (recording when each exit
happened), :mod:`.collect` (the runs), :mod:`.svg` (matplotlib to inline SVG),
:mod:`.bars` and :mod:`.timechart` (the charts), :mod:`.cfg` (the CFG figures),
:mod:`.page` (the HTML).
"""
