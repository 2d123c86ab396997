"""The practice session core: source → engine → judgement → metrics → (store, UI, coach).

No Textual, Typer or Rich here: the TUI and the headless CLI are both plain subscribers of
:class:`~fretcoach_cli.practice.runner.PracticeSession`.
"""
