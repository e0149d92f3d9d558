"""``image-updater migrate``: print ImageUpdater resources equivalent to Applications'
``argocd-image-updater.argoproj.io/*`` annotations.

This module only builds the parser; the work (YAML, the Kubernetes client, the converter
``imageupdater.imageupdaters.export``) is :mod:`imageupdater.cli.migrate_run`, imported when
the command runs, so ``image-updater --help`` loads none of it.
"""

from __future__ import annotations

__all__ = ["DEFAULT_NAMESPACE", "register", "run"]

import argparse

from imageupdater.cli.tenant_flags import add_credential_rule_flags

DEFAULT_NAMESPACE = "argocd"
DEFAULT_NAME = "migrated"
APP_PLACEHOLDER = "{app}"

_DESCRIPTION = f"""\
Read Argo CD Applications configured with argocd-image-updater.argoproj.io/* annotations
and print ImageUpdater resources (argocd-image-updater.argoproj.io/v1alpha1) that configure
them the same way: one per namespace (split into '<name>-2', '<name>-3', ... only when one
resource would exceed the reader's caps), or one per Application with --per-application.
Each Application gets an applicationRef whose namePattern is its exact name; settings every
image shares go on the applicationRef, the others on the image; write-back settings go on
the applicationRef, so Applications with different write-back share a resource.

Input: FILE... (YAML files, multi-document, kind: List included; directories are searched
for *.yaml and *.yml; '-' is standard input), or --from-cluster, which lists Applications
through the Kubernetes API in --namespace (default {DEFAULT_NAMESPACE}) or --all-namespaces
and also says which ImageUpdaters already there select them or would be replaced.

Every resource is read back before it is printed, with the parser the admission webhook
and 'run' use, and each Application must be selected by its own applicationRef and read
back as exactly the configuration its annotations give; a difference is a bug (exit 1).

On standard error, one line per Application and annotation: what could not be converted
(an annotation with an error, a setting no ImageUpdater field holds), what changed on the
way (an image without an alias is given one; '/' in an alias is written '_'), the warnings
the webhook will give for the output, and (as notes) the Applications without annotations.

Exit status: 0 every annotated Application was converted (also when there was none); 2
some input could not be read or converted (then nothing is printed unless --allow-partial,
which prints the rest; the status is 2 all the same), or a flag is used wrongly; 1 the
cluster could not be read, or the self-check failed.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="YAML file, directory (searched for *.yaml, *.yml) or '-' for standard input",
    )
    parser.add_argument(
        "--from-cluster",
        action="store_true",
        help="read the Applications from the cluster instead of files",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="with --from-cluster: kubeconfig to use (default: $KUBECONFIG, else "
        "~/.kube/config; in a pod, its service account)",
    )
    parser.add_argument(
        "--context", default=None, help="with --from-cluster: kubeconfig context to use"
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NAMESPACE",
        help=f"with --from-cluster: a namespace to read (repeatable; default: {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="with --from-cluster: read the Applications of every namespace",
    )
    parser.add_argument(
        "--per-application",
        action="store_true",
        help="one ImageUpdater per Application instead of one per namespace",
    )
    parser.add_argument(
        "--name",
        default=None,
        metavar="NAME",
        help=f"the resources' name: default '{DEFAULT_NAME}' per namespace; with "
        f"--per-application it must contain '{APP_PLACEHOLDER}', the Application's name "
        f"(default '{APP_PLACEHOLDER}')",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="yaml",
        choices=("yaml", "json"),
        help="yaml: '---'-separated documents (default); json: one kind: List",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="print the resources for what could be converted even when something could not "
        "(the exit status is still 2)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="on standard error, only what could not be converted",
    )
    # The rules the webhook and the reconciler are started with: they decide which
    # credential references an Application (and so its ImageUpdater) may make.
    add_credential_rule_flags(parser.add_argument)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from imageupdater.cli.migrate_run import run as run_migrate

    return run_migrate(args)
