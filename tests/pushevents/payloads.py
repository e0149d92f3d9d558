"""Documented payloads of each registry type (shapes from each registry's webhook docs),
shared by the parser tests and the receiver tests."""

from __future__ import annotations

import json
from typing import Any

DIGEST = "sha256:" + "ab" * 32
DIGEST2 = "sha256:" + "cd" * 32

DOCKER_HUB: dict[str, Any] = {
    "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
    "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
    "repository": {
        "name": "testhook",
        "namespace": "svendowideit",
        "owner": "svendowideit",
        "repo_name": "svendowideit/testhook",
        "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/",
    },
}

GHCR: dict[str, Any] = {
    "action": "published",
    "package": {
        "name": "My-App",
        "package_type": "CONTAINER",
        "owner": {"login": "Octo-Org"},
        "registry": {"url": "https://ghcr.io/octo-org"},
        "package_version": {
            "version": DIGEST,
            "name": DIGEST,
            "container_metadata": {"tag": {"name": "v1.2.3", "digest": DIGEST}},
        },
    },
}

QUAY: dict[str, Any] = {
    "name": "repository",
    "repository": "mynamespace/repository",
    "namespace": "mynamespace",
    "docker_url": "quay.io/mynamespace/repository",
    "homepage": "https://quay.io/repository/mynamespace/repository",
    "updated_tags": ["1.0.1", "latest"],
}

HARBOR: dict[str, Any] = {
    "type": "PUSH_ARTIFACT",
    "occur_at": 1680502069,
    "operator": "admin",
    "event_data": {
        "resources": [
            {
                "digest": DIGEST,
                "tag": "2.0.0",
                "resource_url": "harbor.example.com/library/app:2.0.0",
            }
        ],
        "repository": {
            "date_created": 1680502069,
            "name": "app",
            "namespace": "library",
            "repo_full_name": "library/app",
            "repo_type": "private",
        },
    },
}

ACR: dict[str, Any] = {
    "id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5",
    "timestamp": "2017-11-17T16:52:01.343145347Z",
    "action": "push",
    "target": {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "size": 524,
        "digest": DIGEST,
        "length": 524,
        "repository": "hello-world",
        "tag": "v1",
    },
    "request": {
        "id": "3cbb6949-7549-4fa1-xxxx-a6d5451dffc7",
        "host": "myregistry.azurecr.io",
        "method": "PUT",
        "useragent": "docker/17.09.0-ce",
    },
}

ALIYUN: dict[str, Any] = {
    "push_data": {"digest": DIGEST, "pushed_at": "2016-11-29 12:25:46", "tag": "latest"},
    "repository": {
        "date_created": "2016-10-28 21:31:42",
        "name": "repotest",
        "namespace": "namespace",
        "region": "cn-hangzhou",
        "repo_authentication_type": "NO_CERTIFIED",
        "repo_full_name": "namespace/repotest",
        "repo_origin_type": "NO_CERTIFIED",
        "repo_type": "PUBLIC",
    },
}

CLOUDEVENTS_ECR: dict[str, Any] = {
    "specversion": "1.0",
    "id": "1b7d5ea2-0000-0000-0000-000000000000",
    "type": "com.amazon.ecr.image.push",
    "source": "urn:aws:ecr:us-east-1:123456789012:repository/team/app",
    "subject": "team/app:1.4.0",
    "time": "2026-03-01T12:00:00Z",
    "datacontenttype": "application/json",
    "data": {
        "repositoryName": "team/app",
        "imageDigest": DIGEST,
        "imageTag": "1.4.0",
        "registryId": "123456789012",
    },
}

CLOUDEVENTS_GENERIC: dict[str, Any] = {
    "specversion": "1.0",
    "id": "42",
    "type": "dev.example.container.pushed",
    "source": "https://registry.example.com/events",
    "datacontenttype": "application/json",
    "data": {"repository": "team/svc", "tag": "3.1.0", "digest": DIGEST},
}


def distribution_envelope(host: str, repository: str, tag: str | None = "1.0.0") -> dict[str, Any]:
    target: dict[str, Any] = {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "size": 708,
        "digest": DIGEST,
        "length": 708,
        "repository": repository,
        "url": f"http://{host}/v2/{repository}/manifests/{DIGEST}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "events": [
            {
                "id": "320678d8-ca14-430f-8bb6-4ca139cd83f7",
                "timestamp": "2016-03-09T14:44:26.402973972-08:00",
                "action": "push",
                "target": {
                    "mediaType": "application/octet-stream",
                    "size": 1234,
                    "digest": DIGEST2,
                    "length": 1234,
                    "repository": repository,
                    "url": f"http://{host}/v2/{repository}/blobs/{DIGEST2}",
                },
                "request": {"id": "a", "addr": "127.0.0.1:5", "host": host, "method": "PUT"},
                "actor": {},
                "source": {"addr": "x:5000", "instanceID": "y"},
            },
            {
                "id": "6b7d5ea2-8b4d-4e7a-b1d1-0a3e4c3a6d3f",
                "timestamp": "2016-03-09T14:44:26.402973972-08:00",
                "action": "push",
                "target": target,
                "request": {"id": "b", "addr": "127.0.0.1:5", "host": host, "method": "PUT"},
                "actor": {},
                "source": {"addr": "x:5000", "instanceID": "y"},
            },
            {
                "id": "c",
                "action": "pull",
                "target": dict(target),
                "request": {"host": host},
            },
        ]
    }


GENERIC: dict[str, Any] = {
    "registry": "registry.example.com:5000",
    "repository": "team/api",
    "tag": "0.9.0",
    "digest": DIGEST,
}


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()
