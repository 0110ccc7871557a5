"""Drive the viam-fleet-mcp sandbox with the official Python SDK's AppClient.

Start the sandbox first (it prints the API key id and key to export):

    viam-fleet-mcp sandbox --listen 127.0.0.1:50051

then, with `pip install viam-sdk` done:

    VIAM_API_KEY_ID=... VIAM_API_KEY=... python examples/sandbox_app_client.py

Environment: VIAM_APP_HOST (default 127.0.0.1), VIAM_APP_PORT (default 50051),
VIAM_API_KEY_ID and VIAM_API_KEY (required).
"""

import asyncio
import os

from viam.app.viam_client import ViamClient
from viam.rpc.dial import DialOptions


async def main() -> None:
    host = os.environ.get("VIAM_APP_HOST", "127.0.0.1")
    port = int(os.environ.get("VIAM_APP_PORT", "50051"))

    # The SDK's own dial path: API-key credentials, exchanged for a bearer token through
    # proto.rpc.v1.AuthService/Authenticate. The sandbox speaks plaintext HTTP/2 (h2c), so
    # `insecure` skips TLS; the SDK would otherwise refuse to send credentials unencrypted.
    opts = DialOptions.with_api_key(os.environ["VIAM_API_KEY"], os.environ["VIAM_API_KEY_ID"])
    opts.insecure = True
    viam_client = await ViamClient.create_from_dial_options(opts, app_url=f"{host}:{port}")
    try:
        app = viam_client.app_client

        org = (await app.list_organizations())[0]
        print(f"organization: {org.name} ({org.id})")

        location = await app.create_location(org.id, "sdk-demo")
        print(f"created location: {location.name} ({location.id})")

        robot_id = await app.new_robot("sdk-bot", location.id)
        print(f"created machine: sdk-bot ({robot_id})")

        parts = await app.get_robot_parts(robot_id)
        for part in parts:
            print(f"  part: {part.name} ({part.id}) main={part.main_part}")
        main_part = next(p for p in parts if p.main_part)

        # A freshly created part has not logged anything yet.
        logs = await app.get_robot_part_logs(main_part.id, num_log_entries=5)
        print(f"  logs of the new part: {len(logs)} entries")

        # A machine from another (seeded) location shows real entries.
        for other in await app.list_locations(org.id):
            robots = await app.list_robots(other.id) if other.id != location.id else []
            if robots:
                seeded = next(p for p in await app.get_robot_parts(robots[0].id) if p.main_part)
                print(f"logs of {robots[0].name}/{seeded.name} in {other.name}:")
                for entry in await app.get_robot_part_logs(seeded.id, num_log_entries=5):
                    print(f"  {entry.time} {entry.level.upper():5} {entry.logger_name}: {entry.message}")
                break
        else:
            print("no seeded machine in another location (started with --seed empty?)")

        await app.delete_robot(robot_id)
        print(f"deleted machine {robot_id}")
        await app.delete_location(location.id)
        print(f"deleted location {location.id}")
    finally:
        viam_client.close()


if __name__ == "__main__":
    asyncio.run(main())
