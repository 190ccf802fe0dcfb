"""The `sessionlens` command: serve, worker, migrate, user, project, token, process."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sessionlens import bootstrap, config, jsonbytes, projects
from sessionlens.accounts import audit, tokens, users
from sessionlens.context import Context
from sessionlens.recordings.subjects import SubjectError
from sessionlens.storage.crypto import BlobDecryptionError
from sessionlens.storage.engine import migrate
from sessionlens.web import logs


class CommandError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _settings(args: argparse.Namespace) -> config.Settings:
    overrides: dict[str, Any] = {
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "data_dir": getattr(args, "data_dir", None),
        "tls_cert": getattr(args, "tls_cert", None),
        "tls_key": getattr(args, "tls_key", None),
    }
    return config.load(**overrides)


def _open(args: argparse.Namespace) -> Context:
    settings = _settings(args)
    logs.configure(settings.log_format)
    ctx = Context.open(settings)
    migrate(ctx.engine)
    return ctx


def cmd_serve(args: argparse.Namespace) -> None:
    from sessionlens.app import create_app
    from sessionlens.web.serving import serve_app

    ctx = _open(args)
    first = bootstrap.ensure(ctx.engine, ctx.settings)
    if first.generated_password:
        print(
            f"\n  Created the admin account {first.admin_email}"
            f"\n  with the password: {first.generated_password}"
            "\n  (shown once; set SESSIONLENS_ADMIN_PASSWORD to choose it)\n",
            flush=True,
        )
    base = ctx.settings.base_url
    print(f"  Console:   {base}/", flush=True)
    if ctx.settings.demo:
        print(f"  Demo shop: {base}/demo/\n", flush=True)
    app = create_app(ctx, run_processor=False if args.no_worker else None)
    serve_app(app, ctx.settings)


def cmd_migrate(args: argparse.Namespace) -> None:
    ctx = _open(args)
    print(f"database is up to date ({ctx.engine.url.render_as_string(hide_password=True)})")


def cmd_process(args: argparse.Namespace) -> None:
    from sessionlens.processing.processor import Processor

    ctx = _open(args)
    processor = Processor(ctx)
    print(f"processed {processor.drain()} batches")
    print(f"settled {processor.settle()} quiet sessions")


def cmd_worker(args: argparse.Namespace) -> None:
    import asyncio
    import signal

    from sessionlens.processing.processor import Processor

    ctx = _open(args)
    print(f"worker: processing {ctx.queue.describe()}", flush=True)

    async def run() -> None:
        task = asyncio.create_task(Processor(ctx).run())
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    finally:
        ctx.close()
    print("worker: stopped", flush=True)


def cmd_user_create(args: argparse.Namespace) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""
    if not password:
        raise CommandError("give the password on standard input with --password-stdin")
    ctx = _open(args)
    with ctx.engine.begin() as conn:
        if args.org and users.find_organisation(conn, args.org) is None:
            raise CommandError(f"no organisation named {args.org!r}")
        user, org_id = users.create_user(conn, args.email, args.name, password, args.org)
    print(f"created user {user.email} (id {user.id}) in organisation {org_id}")


def cmd_project_create(args: argparse.Namespace) -> None:
    ctx = _open(args)
    with ctx.engine.begin() as conn:
        owner = users.find_user(conn, args.owner)
        if owner is None:
            raise CommandError(f"no user with email {args.owner}")
        org_ids = users.organisation_ids(conn, owner.id)
        if not org_ids:
            raise CommandError(f"{args.owner} belongs to no organisation")
        project = projects.create_project(conn, org_ids[0], args.name, args.website)
    print(f"project id: {project.id}\nproject key: {project.ingest_key}")
    print(
        f'snippet: <script src="{ctx.settings.base_url}/sessionlens.js" '
        f'data-project="{project.ingest_key}" defer></script>'
    )


def cmd_token_create(args: argparse.Namespace) -> None:
    ctx = _open(args)
    with ctx.engine.begin() as conn:
        user = users.find_user(conn, args.email)
        if user is None:
            raise CommandError(f"no user with email {args.email}")
        org_id = None
        if args.org:
            org_id = users.find_organisation(conn, args.org)
            if org_id is None or org_id not in users.organisation_ids(conn, user.id):
                raise CommandError(f"{args.email} is not a member of an organisation {args.org!r}")
        token = tokens.create_api_token(
            conn, user.id, args.name, org_id, "write" if args.write else "read"
        )
    print(token)


def _subject(args: argparse.Namespace) -> tuple[Literal["visitor", "user"], str]:
    if (args.visitor_id is None) == (args.user_id is None):
        raise CommandError("give exactly one of --visitor-id and --user-id")
    return ("visitor", args.visitor_id) if args.visitor_id is not None else ("user", args.user_id)


def _project_or_fail(ctx: Context, project_id: int) -> projects.Project:
    with ctx.engine.connect() as conn:
        found = projects.by_id(conn, project_id)
    if found is None:
        raise CommandError(f"no project with id {project_id}")
    return found


def cmd_visitor_export(args: argparse.Namespace) -> None:

    from sessionlens.recordings import subjects

    ctx = _open(args)
    project = _project_or_fail(ctx, args.project_id)
    by, value = _subject(args)
    with ctx.engine.connect() as conn:
        data = subjects.export(conn, ctx.blobs, project.id, by, value)
    with ctx.engine.begin() as conn:
        audit.record(
            conn,
            organisation_id=project.organisation_id,
            user_id=None,
            actor="cli",
            action="visitor.export",
            object_type="project",
            object_id=str(project.id),
            detail={"by": by, "sessions": len(data["sessions"])},
        )
    body = jsonbytes.dumps(data, indent=True)
    if args.output == "-":
        sys.stdout.buffer.write(body + b"\n")
    else:
        Path(args.output).write_bytes(body)
        print(f"wrote {len(data['sessions'])} sessions to {args.output}", file=sys.stderr)


def cmd_visitor_erase(args: argparse.Namespace) -> None:
    from sessionlens.recordings import subjects

    ctx = _open(args)
    project = _project_or_fail(ctx, args.project_id)
    by, value = _subject(args)
    with ctx.engine.begin() as conn:
        erased = subjects.erase(conn, ctx.blobs, project.id, by, value)
        audit.record(
            conn,
            organisation_id=project.organisation_id,
            user_id=None,
            actor="cli",
            action="visitor.erase",
            object_type="project",
            object_id=str(project.id),
            detail={"by": by, "sessions": erased.sessions, "blocks": erased.blocks},
        )
    print(f"erased {erased.sessions} sessions and {erased.blocks} recording blocks")


def cmd_purge(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from sessionlens.recordings import retention
    from sessionlens.storage.tables import utcnow

    ctx = _open(args)
    now = utcnow()
    total = retention.count_expired(ctx.engine, now)
    with tqdm(total=total, unit="session", desc="purging", disable=None) as bar:

        def step(done: int) -> None:
            bar.update(done)

        purged = retention.purge(ctx.engine, ctx.blobs, now, progress=step)
    print(f"purged {purged} sessions past their project's retention")


def cmd_import(args: argparse.Namespace) -> None:
    import orjson
    from tqdm import tqdm

    from sessionlens.ingest.body import gunzip_capped
    from sessionlens.ingest.guard import scrub
    from sessionlens.processing.processor import Processor
    from sessionlens.recordings import importer

    ctx = _open(args)
    project = _project_or_fail(ctx, args.project)
    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        document = orjson.loads(gunzip_capped(raw) if raw[:2] == b"\x1f\x8b" else raw)
        events = importer.events_of(document)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"{args.file} is not JSON: {exc}") from exc
    except importer.ImportError_ as exc:
        raise CommandError(f"{args.file}: {exc}") from exc
    with tqdm(total=len(events), unit="event", desc="importing", disable=None) as bar:

        def step(done: int) -> None:
            bar.update(done)

        patterns = project.privacy.extra_patterns
        session_id = importer.import_events(
            ctx.engine, project.id, events, lambda raw: scrub(raw, patterns).body, step
        )
    processed = Processor(ctx).drain()
    print(f"imported {len(events)} events as session {session_id} ({processed} batches processed)")


def cmd_settings(args: argparse.Namespace) -> None:
    print(config.markdown_table())


def cmd_rotate_keys(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from sessionlens.storage import rotation

    ctx = _open(args)
    try:
        keys = ctx.blobs.list()
        with tqdm(total=len(keys), unit="blob", desc="re-encrypting", disable=None) as bar:

            def step(done: int) -> None:
                bar.update(done)

            done = rotation.rotate(ctx.engine, ctx.blobs, keys, progress=step)
    finally:
        ctx.close()
    print(
        f"re-encrypted {done.reencrypted}, already current {done.current}, "
        f"failed {done.failed}, not referenced by any block {done.unreferenced}"
    )
    for failure in done.failures[:20]:
        print(f"  {failure}", file=sys.stderr)
    if len(done.failures) > 20:
        print(f"  ... and {len(done.failures) - 20} more", file=sys.stderr)
    if done.failed:
        raise CommandError(
            f"{done.failed} blobs could not be decrypted; keep the old secrets until they "
            "are dealt with (see docs/encryption.md)"
        )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="sessionlens",
        description="Self-hosted, privacy-first session replay. "
        "Every option can also be set with a SESSIONLENS_* environment variable.",
    )
    sub = top.add_subparsers(dest="command", required=True)

    def with_data_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--data-dir", help="data folder (SESSIONLENS_DATA_DIR)")
        return p

    serve = with_data_dir(sub.add_parser("serve", help="run the server (ingest, console, API)"))
    serve.add_argument("--host", help="listen address (SESSIONLENS_HOST)")
    serve.add_argument("--port", type=int, help="listen port (SESSIONLENS_PORT)")
    serve.add_argument("--tls-cert", help="PEM certificate to serve HTTPS (SESSIONLENS_TLS_CERT)")
    serve.add_argument("--tls-key", help="PEM key of the certificate (SESSIONLENS_TLS_KEY)")
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="do not process the ingest queue in this process (run `sessionlens worker`)",
    )
    serve.set_defaults(func=cmd_serve)
    with_data_dir(
        sub.add_parser("migrate", help="create or upgrade the database schema")
    ).set_defaults(func=cmd_migrate)
    with_data_dir(
        sub.add_parser("process", help="process every pending batch, then exit")
    ).set_defaults(func=cmd_process)
    with_data_dir(
        sub.add_parser(
            "worker",
            help="process the ingest queue until stopped (next to `serve --no-worker`)",
        )
    ).set_defaults(func=cmd_worker)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    create = with_data_dir(user.add_parser("create", help="create a user"))
    create.add_argument("email")
    create.add_argument("--name", default="", help="the user's name")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    create.add_argument("--org", help="join this existing organisation instead of a new one")
    create.set_defaults(func=cmd_user_create)

    project = sub.add_parser("project", help="manage projects").add_subparsers(
        dest="action", required=True
    )
    pcreate = with_data_dir(project.add_parser("create", help="create a project"))
    pcreate.add_argument("name")
    pcreate.add_argument(
        "--website",
        action="append",
        required=True,
        help="an origin of the recorded site, e.g. https://shop.example (repeatable)",
    )
    pcreate.add_argument("--owner", required=True, help="email of a member of the organisation")
    pcreate.set_defaults(func=cmd_project_create)

    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    tcreate = with_data_dir(token.add_parser("create", help="create an API token for a user"))
    tcreate.add_argument("email")
    tcreate.add_argument("--name", default="cli", help="a label for the token")
    tcreate.add_argument("--org", help="the organisation it may read (default: the user's first)")
    tcreate.add_argument(
        "--write", action="store_true", help="allow changes (e.g. erasure), not only reads"
    )
    tcreate.set_defaults(func=cmd_token_create)

    imp = with_data_dir(sub.add_parser("import", help="load rrweb JSON recorded elsewhere"))
    imp.add_argument("file", help="rrweb JSON: an array of events or {events: [...]}, maybe gzip")
    imp.add_argument("--project", type=int, required=True, help="the project id to add it to")
    imp.set_defaults(func=cmd_import)

    sub.add_parser("settings", help="print the table of settings (Markdown)").set_defaults(
        func=cmd_settings
    )

    purge = with_data_dir(
        sub.add_parser("purge", help="delete sessions older than their project's retention days")
    )
    purge.set_defaults(func=cmd_purge)
    with_data_dir(
        sub.add_parser(
            "rotate-keys",
            help="re-encrypt every recording with the current secret key "
            "(old ones from SESSIONLENS_OLD_SECRET_KEYS)",
        )
    ).set_defaults(func=cmd_rotate_keys)

    visitor = sub.add_parser("visitor", help="export or erase one visitor's data").add_subparsers(
        dest="action", required=True
    )
    for name, func, text in (
        ("export", cmd_visitor_export, "print everything stored as JSON"),
        ("erase", cmd_visitor_erase, "erase sessions, blocks and blobs"),
    ):
        cmd = with_data_dir(visitor.add_parser(name, help=text))
        cmd.add_argument("project_id", type=int)
        cmd.add_argument("--visitor-id", help="the visitor id the browser sent")
        cmd.add_argument("--user-id", help="the id given to sessionlens.identify()")
        if name == "export":
            cmd.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
        cmd.set_defaults(func=func)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except config.SettingsError as exc:
        print(f"sessionlens: bad setting: {exc}", file=sys.stderr)
        return 2
    except (
        CommandError,
        users.AccountError,
        projects.ProjectError,
        SubjectError,
        BlobDecryptionError,
    ) as exc:
        print(f"sessionlens: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
