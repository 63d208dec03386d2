"""Add or replace a user of the built-in issuer at one service, without the demo users:
``python -m shared.useradd intake customs.lead customs_officer HAN SGN --name "Lead officer"``.

The password comes from ``AIDPORT_NEW_PASSWORD`` or is asked for. Services keep their own
users, so a user who works with several services is added to each of them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from shared.accounts import Accounts
from shared.auth import Principal, Role
from shared.db import create_pool
from shared.migrations import migrate
from shared.settings import ALL_SERVICES, load_settings

MIN_PASSWORD = 12


async def add_user(database_url: str, principal: Principal, password: str) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)  # the kit's tables, so that this may run before the service
        await Accounts(pool).save(principal, password)
    finally:
        await pool.close()


def _password() -> str:
    password = os.environ.get("AIDPORT_NEW_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < MIN_PASSWORD:
        sys.exit(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.useradd")
    parser.add_argument("service", choices=ALL_SERVICES)
    parser.add_argument("sub", help="the user name")
    parser.add_argument("role", choices=[r.value for r in Role])
    parser.add_argument("scope", nargs="*", help="airports (IATA) or one province code")
    parser.add_argument("--name", help="the name shown on the pages (default: the user name)")
    args = parser.parse_args()
    principal = Principal(args.sub, args.name or args.sub, Role(args.role), tuple(args.scope))
    asyncio.run(add_user(load_settings(args.service).database_url, principal, _password()))
    print(f"{args.service}: user {args.sub} ({args.role}) saved")


if __name__ == "__main__":
    main()
