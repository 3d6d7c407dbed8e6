"""The ``igs`` command line: the root group, logging, SIGTERM handling and exit codes.

Each stage's commands live in its own module (``igs/<stage>/cli.py``, see ``COMMANDS``), loaded
only when used, so ``igs qc run`` does not import the models stage. Every workflow rule runs one
of these commands, so every step can be re-run by hand. Errors raised as
:class:`igs.errors.IGSError` become a one-line message and the exit code of their class.
"""

from __future__ import annotations

import errno
import importlib
import logging
import signal
import sys

import click

from igs import __version__
from igs.errors import IGSError

# command name -> "module:attribute" of its click group or command
COMMANDS = {
    "config": "igs.cli_config:config",
    "simulate": "igs.simulate.cli:simulate",
    "inputs": "igs.inputs.cli:inputs",
    "qc": "igs.qc.cli:qc",
    "scores": "igs.scores.cli:scores",
    "pheno": "igs.pheno.cli:pheno",
    "models": "igs.models.cli:models",
    "share": "igs.share.cli:share",
    "export": "igs.export.cli:export",
    "report": "igs.report.cli:report",
    "provenance": "igs.cli_provenance:provenance",
}
# old names, kept (hidden) for one release
ALIASES = {
    "apply-model": "igs.models.cli:models_apply",
    "meta": "igs.share.cli:share_meta",
}


def _load(target: str) -> click.Command:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


class StageGroup(click.Group):
    """The root group: stage groups imported on first use; hidden aliases for renamed commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            return _load(COMMANDS[name])
        if name in ALIASES:
            cmd = _load(ALIASES[name])
            alias = click.Command(name, params=cmd.params, callback=cmd.callback, hidden=True,
                                  help=f"Old name of the command (use `igs {ALIASES[name].split(':')[1].replace('_', ' ')}`).")  # fmt: skip
            return alias
        return None


def _setup_logging(verbose: bool) -> None:
    from igs.redact import RedactingFormatter

    handler = logging.StreamHandler(sys.stderr)  # no URL user, password or query in any line
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


@click.group(cls=StageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igs")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def cli(verbose: bool) -> None:
    """igs: integrative genetic scores from biobank genotypes and health records."""
    _setup_logging(verbose)


class Terminated(Exception):
    """SIGTERM (a cancelled job, Snakemake stopping): unwinds so half-written temporaries go."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


EXIT_TERMINATED = 143
EXIT_ABORTED = 130
_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def _redact(text: str) -> str:
    from igs.redact import redact_urls

    return redact_urls(text)


def main() -> None:
    """Entry point: run the CLI, turning igs errors into a message and their class's exit code."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        try:
            cli(standalone_mode=False)
        except OSError as exc:  # a full or read-only disk: name the path, no traceback
            if exc.errno not in _DISK_ERRORS:
                raise
            raise IGSError(
                f"{exc.filename or 'writing a file'}: {_DISK_ERRORS[exc.errno]} ({exc.strerror}); "
                "free space or fix permissions, then run the step again."
            ) from exc
    except Terminated:
        click.echo("igs: terminated (SIGTERM) before the step finished; run it again", err=True)
        sys.exit(EXIT_TERMINATED)
    except IGSError as exc:
        click.echo(f"igs: error: {_redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("igs: aborted", err=True)
        sys.exit(EXIT_ABORTED)
    except click.ClickException as exc:
        exc.message = _redact(exc.message)
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
