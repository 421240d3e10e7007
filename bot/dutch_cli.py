"""The `kompas` command line in Dutch: Typer's help option, usage line, panels and usage errors.

Typer writes these in English (it ships its own copy of Click, without translations); the people
who run `kompas` read Dutch. Commands and groups use `DutchCommand` and `DutchGroup` as their class.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup

HELP_TEXT = "Toon deze uitleg en stop."


class _Dutch:
    """Typer's built-in help option and usage line, in Dutch (its other words: `_panels_in_dutch`)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.help = HELP_TEXT
            option.metavar = ""
        return option

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="Gebruik: ")


class DutchCommand(_Dutch, TyperCommand):
    pass


class DutchGroup(_Dutch, TyperGroup):
    pass


def _panels_in_dutch() -> None:
    import typer.rich_utils as panels

    panels.OPTIONS_PANEL_TITLE = "Opties"
    panels.ARGUMENTS_PANEL_TITLE = "Argumenten"
    panels.COMMANDS_PANEL_TITLE = "Commando's"
    panels.ERRORS_PANEL_TITLE = "Fout"
    panels.DEFAULT_STRING = "[standaard: {}]"
    panels.REQUIRED_LONG_STRING = "[verplicht]"
    panels.ABORTED_TEXT = "Afgebroken."
    panels.RICH_HELP = "Typ [blue]'{command_path} {help_option}'[/] voor uitleg."


_panels_in_dutch()


def usage_problem(exc: Any) -> str:
    """A wrong or missing argument or option, said in Dutch."""
    param = getattr(exc, "param", None)
    name = (getattr(param, "metavar", None) or getattr(param, "name", "") or "").strip("{}")
    hint = getattr(exc, "param_hint", None) or f"'{name}'"
    kind = type(exc).__name__
    if kind == "MissingParameter":
        return f"Er ontbreekt iets: {hint}."
    if kind == "NoSuchOption":
        return f"De optie {getattr(exc, 'option_name', '')} ken ik niet."
    if kind == "BadOptionUsage":
        return f"De optie {getattr(exc, 'option_name', '')} heeft een waarde nodig."
    if kind == "BadParameter":
        return f"De waarde voor {hint} klopt niet."
    return "Deze opdracht begrijp ik niet."
