#!/usr/bin/python3
"""Checks Kubernetes manifests against the API's schema, offline.

`kubectl apply --dry-run=client` needs an API server to download the schema from, and there is
none here. The models of the official Python client (Debian's python3-kubernetes) carry the same
schema: every kind's fields, their types, the required ones and the enums. This walks each
document through them and reports unknown fields, values of the wrong type and missing required
fields, with the path to each; then what the API server itself would refuse across fields: a
selector that does not match the pod template's labels, a probe or Service naming a port no
container declares, names that are not DNS labels.

Usage: k8s-schema-check.py FILE...   Exit 0 when every document is valid, 1 otherwise.
"""
import re
import sys

import yaml
from kubernetes.client import models

PRIMITIVES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "datetime": (str,), "date": (str,)}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PORT_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


def check(value, type_name, path, errors):
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, type_name[5:-1], f"{path}[{i}]", errors)
    elif type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a mapping, got {type(value).__name__}")
            return
        inner = re.match(r"dict\(str, (.*)\)$", type_name).group(1)
        for key, item in value.items():
            check(item, inner, f"{path}.{key}", errors)
    elif type_name == "object":  # IntOrString, Quantity, raw JSON
        if not isinstance(value, (str, int, float, dict, list)):
            errors.append(f"{path}: unexpected {type(value).__name__}")
    elif type_name in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[type_name]) and not (type_name != "bool" and isinstance(value, bool))
        if not ok:
            errors.append(f"{path}: expected {type_name}, got {type(value).__name__} {value!r}")
    else:
        cls = getattr(models, type_name)
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a {type_name} mapping, got {type(value).__name__}")
            return
        fields = {json_key: attr for attr, json_key in cls.attribute_map.items()}
        present = {}
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: unknown field of {type_name} (fields: {', '.join(sorted(fields))})")
                continue
            present[fields[key]] = item
            check(item, cls.openapi_types[fields[key]], f"{path}.{key}", errors)
        try:  # the models' own validation: required fields, enums
            cls(**present)
        except (ValueError, TypeError) as e:
            errors.append(f"{path}: {e}")


def cross_checks(doc, path, errors):
    name = (doc.get("metadata") or {}).get("name", "")
    if not DNS_LABEL.match(str(name)):
        errors.append(f"{path}.metadata.name: '{name}' is not a lower-case DNS label")
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
        spec = doc.get("spec") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items():
            if labels.get(k) != v:
                errors.append(f"{path}.spec.selector.matchLabels.{k}: the pod template's labels do not have {k}={v}")
        pod = (spec.get("template") or {}).get("spec") or {}
        for kind in ("initContainers", "containers"):
            for i, c in enumerate(pod.get(kind) or []):
                cpath = f"{path}.spec.template.spec.{kind}[{i}]"
                if not DNS_LABEL.match(str(c.get("name", ""))):
                    errors.append(f"{cpath}.name: not a DNS label")
                ports = {p.get("name") for p in c.get("ports") or [] if p.get("name")}
                for p in ports:
                    if not PORT_NAME.match(p):
                        errors.append(f"{cpath}.ports: '{p}' is not a valid port name")
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                    if isinstance(port, str) and port not in ports:
                        errors.append(f"{cpath}.{probe}.httpGet.port: no port named '{port}' in the container")
                mounts = {m.get("name") for m in c.get("volumeMounts") or []}
                volumes = {v.get("name") for v in pod.get("volumes") or []}
                for m in mounts - volumes:
                    errors.append(f"{cpath}.volumeMounts: no volume named '{m}'")


def main(files):
    errors, count, docs = [], 0, []
    for file in files:
        with open(file, encoding="utf-8") as f:
            for i, doc in enumerate(yaml.safe_load_all(f)):
                if doc is None:
                    continue
                docs.append((f"{file}#{i}", doc))
    for path, doc in docs:
        count += 1
        api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
        version = api.rpartition("/")[2]
        cls_name = version[:1].upper() + version[1:] + kind
        if not hasattr(models, cls_name):
            errors.append(f"{path}: unknown kind {api} {kind}")
            continue
        check(doc, cls_name, f"{path}:{kind}", errors)
        cross_checks(doc, f"{path}:{kind}", errors)
    # A Service's named targetPort must be a port some pod it selects declares.
    pods = [d for _, d in docs if d.get("kind") == "Deployment"]
    for path, doc in docs:
        if doc.get("kind") != "Service":
            continue
        selector = (doc.get("spec") or {}).get("selector") or {}
        targets = [d for d in pods if all(((d["spec"]["template"].get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in selector.items())]
        if not targets:
            errors.append(f"{path}:Service.spec.selector: selects no pod template in these files")
        names = {p.get("name") for d in targets for c in d["spec"]["template"]["spec"].get("containers", []) for p in c.get("ports") or []}
        for i, p in enumerate((doc.get("spec") or {}).get("ports") or []):
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                errors.append(f"{path}:Service.spec.ports[{i}].targetPort: no container port named '{p['targetPort']}'")
    for e in errors:
        print(f"error: {e}")
    print(f"{count} document(s), {len(errors)} error(s)")
    return 1 if errors or count == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
