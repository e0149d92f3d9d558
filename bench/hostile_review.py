"""Worst-case review cost under the annotation caps (security issue, item 3).

A tenant who can write an Application chooses what the webhook parses. This benchmark
builds the most expensive annotation sets the caps in ``imageupdater.annotations.limits``
still admit for parsing — at every cap at once where that is possible — plus the hostile
set that once pinned the event loop for 14–19 s, and times ``Admission.validate`` on each,
in process, one review after another. Every review is a fresh variant (a counter in a key
or value), so the webhook's parse cache never answers; what is measured is the CPU a review
costs the event loop. A typical Application's review is the reference.

    cd /work/main && .venv/bin/python bench/hostile_review.py [--reviews N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imageupdater.annotations import limits  # noqa: E402
from webhook import review as wire  # noqa: E402
from webhook.admission import Admission, AdmissionSettings  # noqa: E402

P = "argocd-image-updater.argoproj.io/"
Builder = Callable[[int], dict[str, str]]


def _image_list(count: int, n: int, width: int = 0) -> str:
    entries = []
    for i in range(count):
        entry = f"a{i}=ghcr.io/acme/team/a{i}-{n}"
        if width:
            entry += ":" + (">=1.0.0 <2.0.0 || " * 20)[: width - 8].rstrip(" |") + " || ~1.2"
        entries.append(entry)
    return ", ".join(entries)


def typical(n: int) -> dict[str, str]:
    return {
        P + "image-list": f"web=ghcr.io/acme/web:~1.{n}, api=ghcr.io/acme/api",
        P + "web.update-strategy": "semver",
        P + "api.update-strategy": "newest-build",
        P + "api.allow-tags": r"regexp:^main-[0-9a-f]{7}$",
        P + "api.ignore-tags": "*-debug, *-rc*",
        P + "web.helm.image-name": "web.image.repository",
        P + "web.helm.image-tag": "web.image.tag",
    }


def unknown_option_keys(n: int) -> dict[str, str]:
    """Every key but image-list a typo of a per-image option of a real alias: the
    "did you mean" search at its worst, until its budget runs out."""
    out = {P + "image-list": _image_list(limits.MAX_IMAGES, n)}
    for i in range(limits.MAX_KEYS - 1):
        out[P + f"a{i % limits.MAX_IMAGES}.update-stratgy-{i}"] = "semver"
    return out


def unknown_alias_keys(n: int) -> dict[str, str]:
    out = {P + "image-list": _image_list(limits.MAX_IMAGES, n)}
    for i in range(limits.MAX_KEYS - 1):
        out[P + f"b{i}x.update-strategy"] = "semver"
    return out


def long_regexes(n: int) -> dict[str, str]:
    """allow-tags expressions of the longest accepted length, as many as fit the total."""
    out = {P + "image-list": _image_list(limits.MAX_IMAGES, n)}
    body = "|".join(f"v{j}\\.[0-9]+\\.[0-9a-f]{{2,4}}" for j in range(200))
    room = limits.MAX_TOTAL_LENGTH - len(out[P + "image-list"]) - 100
    i = 0
    while True:
        # allow-tags has its own cap of 1,000 characters per expression (tags.AllowTags).
        value = "regexp:" + ("^(" + body)[:997].rsplit("|", 1)[0] + ")$"
        key = P + f"a{i}.allow-tags"
        if room < len(key) + len(value) or i >= limits.MAX_IMAGES:
            break
        out[key] = value
        room -= len(key) + len(value)
        i += 1
    return out


def many_globs(n: int) -> dict[str, str]:
    """The whole glob budget, spread over every alias, with character classes."""
    out = {P + "image-list": _image_list(limits.MAX_IMAGES, n)}
    per_alias = limits.MAX_GLOBS // limits.MAX_IMAGES
    for i in range(limits.MAX_IMAGES):
        out[P + f"a{i}.ignore-tags"] = ",".join(f"*-[a-z][0-9]?{j}*[!x]" for j in range(per_alias))
    return out


def long_constraints(n: int) -> dict[str, str]:
    """image-list at its length cap, every entry carrying a long OR-ed constraint."""
    width = limits.MAX_CONSTRAINT_LENGTH
    count = min(limits.MAX_IMAGES, limits.MAX_CONSTRAINTS_LENGTH // width)
    return {P + "image-list": _image_list(count, n, width)}


def every_option(n: int) -> dict[str, str]:
    """Every alias with every per-image option set validly, up to the key cap."""
    out = {P + "image-list": _image_list(limits.MAX_IMAGES, n)}
    options = {
        "update-strategy": "newest-build",
        "allow-tags": r"regexp:^v[0-9]+\.[0-9]+$",
        "ignore-tags": "*-rc*",
        "platforms": "linux/amd64,linux/arm64",
        "force-update": "true",
    }
    for i in range(limits.MAX_IMAGES):
        for option, value in options.items():
            if len(out) < limits.MAX_KEYS:
                out[P + f"a{i}.{option}"] = value
    return out


def over_the_caps(n: int) -> dict[str, str]:
    """The set that pinned the loop before the caps: 1,000 aliases, 300 unknown keys."""
    out = {P + "image-list": ", ".join(f"a{i}=ghcr.io/x/a{i}-{n}" for i in range(1000))}
    for i in range(300):
        out[P + f"a{i}.update-stratgy{i}"] = "semver"
    return out


SCENARIOS: dict[str, Builder] = {
    "typical Application": typical,
    "unknown option keys at the key cap": unknown_option_keys,
    "unknown alias keys at the key cap": unknown_alias_keys,
    "1,000-character allow-tags up to the total cap": long_regexes,
    "the glob budget over 64 aliases": many_globs,
    "128-character constraints up to their total cap": long_constraints,
    "every option of 64 aliases": every_option,
    "1,000 aliases + 300 unknown keys (over the caps)": over_the_caps,
}


def _review(annotations: dict[str, str]) -> bytes:
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "hostile", "namespace": "team-a", "annotations": annotations},
        "spec": {"source": {"repoURL": "https://git.example/r.git", "path": "."}},
    }
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "u",
                "kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Application"},
                "namespace": "team-a",
                "name": "hostile",
                "operation": "CREATE",
                "object": app,
            },
        }
    ).encode()


def measure(builder: Builder, reviews: int) -> dict[str, Any]:
    admission = Admission(AdmissionSettings())
    bodies = [_review(builder(n)) for n in range(reviews)]
    times: list[float] = []
    outcome = ""
    for data in bodies:
        started = time.process_time()
        decision = admission.validate(wire.decode(data))
        times.append((time.process_time() - started) * 1000)
        outcome = decision.outcome
    times.sort()
    sample = json.loads(bodies[0])["request"]["object"]["metadata"]["annotations"]
    return {
        "keys": len(sample),
        "characters": sum(len(k) + len(v) for k, v in sample.items()),
        "outcome": outcome,
        "median_ms": statistics.median(times),
        "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
        "max_ms": times[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=200, help="reviews per scenario")
    parser.add_argument("--json", type=Path, help="write the results here as well")
    args = parser.parse_args(argv)
    results = {name: measure(builder, args.reviews) for name, builder in SCENARIOS.items()}
    print(f"{platform.python_version()} on {platform.machine()}, {args.reviews} reviews each")
    header = ("keys", 5), ("chars", 6), ("outcome", 9), ("median", 8), ("p99", 8), ("max", 8)
    print(f"{'scenario':<50} " + " ".join(f"{name:>{width}}" for name, width in header))
    for name, r in results.items():
        print(
            f"{name:<50} {r['keys']:>5} {r['characters']:>6} {r['outcome']:>9} "
            f"{r['median_ms']:>6.2f}ms {r['p99_ms']:>6.2f}ms {r['max_ms']:>6.2f}ms"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
