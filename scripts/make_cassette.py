"""Write cassettes/<task>/<scenario>.yaml from a recorded response body.

The request is built by hf_tools itself, so the cassette matches what we send today:

    python scripts/make_cassette.py text-classification success \
        --args '{"text": "I like you"}' --response body.json [--status 200] \
        [--content-type application/json] [--model org/name] [--served URL=FILE]

``--served`` replays a media URL given in ``--args``: its download (a GET answered with FILE)
is written before the inference call, which carries FILE's bytes. Downloads connect to the
address they resolved to (Host header kept), so the GET is written to ``--served-address``,
the address the tests' fake DNS gives.

List the new cassette and the recording its body came from in cassettes/INDEX.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from httpx2 import URL

from hf_tools.client import HFClient
from hf_tools.http import HFRequest
from hf_tools.tasks import get_spec
from hf_tools.testing import DUMMY_TOKEN, Interaction, write_cassette


def _pinned(url: str, address: str) -> str:
    return str(URL(url).copy_with(host=address))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("scenario")
    parser.add_argument("--args", required=True, help="tool arguments as JSON")
    parser.add_argument("--response", required=True, type=Path, help="file with the body")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--model")
    parser.add_argument("--served", action="append", default=[], metavar="URL=FILE")
    parser.add_argument("--served-address", default="93.184.216.34")
    ns = parser.parse_args()
    served = dict(item.split("=", 1) for item in ns.served)
    client = HFClient(api_key=DUMMY_TOKEN, allowed_roots=[Path.cwd()])
    spec = get_spec(ns.task)
    inputs = client.validate(spec, json.loads(ns.args))
    from hf_tools.media import resolve_media

    media = {
        f: resolve_media(served.get(v, v), client.settings)
        for f in spec.media_fields
        if (v := getattr(inputs, f, None)) is not None
    }
    downloads = [
        Interaction(
            HFRequest(_pinned(url, ns.served_address), {"Host": URL(url).host}, b""),
            body=Path(file).read_bytes(),
            headers={"content-type": resolve_media(file, client.settings).mime},
            method="GET",
        )
        for url, file in served.items()
    ]
    request = client.prepare(spec, inputs, media, client.model_for(spec, ns.model))
    path = Path("cassettes") / spec.task / f"{ns.scenario}.yaml"
    body = ns.response.read_bytes()
    if ns.content_type.startswith("application/json"):
        body = body.strip()
    response = Interaction(request, ns.status, body, {"content-type": ns.content_type})
    write_cassette(path, [*downloads, response])
    print(path)


if __name__ == "__main__":
    main()
