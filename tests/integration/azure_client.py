#!/usr/bin/env python3
"""Azure Blob through Azure's own Python client (azure-storage-blob), for
tests/integration/azure.sh, and the Event Grid events Azure would deliver for
what it does (Azurite sends none, so the test hands them to Kafka itself).

usage: azure_client.py create CONTAINER
       azure_client.py put CONTAINER KEY FILE      -> an Event Grid BlobCreated event
       azure_client.py delete CONTAINER KEY        -> an Event Grid BlobDeleted event
       azure_client.py md5 CONTAINER KEY HEX       -> sets the blob's Content-MD5 property
                                                     (a wrong one: a tampered blob), and
                                                     the BlobCreated event of its new ETag
       azure_client.py exists CONTAINER KEY        -> yes | no
       azure_client.py get CONTAINER KEY           -> the blob's bytes on stdout

The account comes from AW_AZURE_ENDPOINT, AW_AZURE_ACCOUNT and AW_AZURE_KEY
(scripts/stack env). Events are printed as one JSON array per line, shaped as
Event Grid's schema documents them (data.url percent-encodes the name).
"""
import json
import os
import sys
import urllib.parse
import uuid

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

ENDPOINT = os.environ["AW_AZURE_ENDPOINT"]
ACCOUNT = os.environ["AW_AZURE_ACCOUNT"]
KEY = os.environ["AW_AZURE_KEY"]
SEQ_FILE = os.environ.get("AZ_SEQ_FILE", "/tmp/aw-azure-seq")


def service():
    return BlobServiceClient(ENDPOINT, credential={"account_name": ACCOUNT, "account_key": KEY})


def sequencer():
    n = 0
    try:
        with open(SEQ_FILE) as f:
            n = int(f.read().strip() or 0)
    except OSError:
        pass
    n += 1
    with open(SEQ_FILE, "w") as f:
        f.write(str(n))
    return "%032x" % n


def event(kind, container, key, props=None):
    url = "%s/%s/%s" % (ENDPOINT, container, urllib.parse.quote(key, safe="/"))
    data = {"api": "PutBlob" if kind == "Created" else "DeleteBlob", "url": url,
            "sequencer": sequencer(), "blobType": "BlockBlob",
            "requestId": str(uuid.uuid4())}
    if props is not None:
        data.update({"eTag": props["etag"], "contentLength": props["size"],
                     "contentType": props["content_settings"]["content_type"]})
    return [{"topic": "/subscriptions/test/resourceGroups/aw/providers/Microsoft.Storage/"
                      "storageAccounts/" + ACCOUNT,
             "subject": "/blobServices/default/containers/%s/blobs/%s" % (container, key),
             "eventType": "Microsoft.Storage.Blob" + kind, "id": str(uuid.uuid4()),
             "eventTime": "2026-12-07T00:00:00.0000000Z", "data": data,
             "dataVersion": "", "metadataVersion": "1"}]


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    svc = service()
    if cmd == "create":
        svc.create_container(args[0])
    elif cmd == "put":
        blob = svc.get_blob_client(args[0], args[1])
        with open(args[2], "rb") as f:
            blob.upload_blob(f, overwrite=True)
        print(json.dumps(event("Created", args[0], args[1], blob.get_blob_properties())))
    elif cmd == "md5":
        blob = svc.get_blob_client(args[0], args[1])
        settings = blob.get_blob_properties().content_settings
        settings.content_md5 = bytearray(bytes.fromhex(args[2]))
        blob.set_http_headers(settings)
        print(json.dumps(event("Created", args[0], args[1], blob.get_blob_properties())))
    elif cmd == "delete":
        svc.get_blob_client(args[0], args[1]).delete_blob()
        print(json.dumps(event("Deleted", args[0], args[1])))
    elif cmd == "exists":
        print("yes" if svc.get_blob_client(args[0], args[1]).exists() else "no")
    elif cmd == "get":
        try:
            sys.stdout.buffer.write(svc.get_blob_client(args[0], args[1]).download_blob().readall())
        except ResourceNotFoundError:
            sys.exit(1)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
