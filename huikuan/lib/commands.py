"""A base for management commands whose help is translated when it is shown.

Help texts are lazy so ``huikuan --lang en demo --help`` prints English; argparse wants plain
strings, so they are rendered when the parser is built — after the CLI chose the language.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class TranslatedCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = str(self.help)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:
            if action.help is not None:
                action.help = str(action.help)
        return parser
