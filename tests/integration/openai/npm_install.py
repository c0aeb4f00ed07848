"""ctest fixture: installs the official `openai` npm package, major version 5,
into DIR/node_modules (once; later runs reuse it). Version 7 needs a newer Node
than Debian's 20."""
import json
import os
import subprocess
import sys

target = sys.argv[1]
pkg = os.path.join(target, "node_modules", "openai", "package.json")
if os.path.exists(pkg) and json.load(open(pkg))["version"].startswith("5."):
    print("openai %s already installed in %s" % (json.load(open(pkg))["version"], target))
    sys.exit(0)
os.makedirs(target, exist_ok=True)
if not os.path.exists(os.path.join(target, "package.json")):
    with open(os.path.join(target, "package.json"), "w") as f:
        json.dump({"name": "distillguard-openai-node-test", "private": True}, f)
subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "openai@5"],
               cwd=target, check=True, timeout=600)
print("installed openai %s in %s" % (json.load(open(pkg))["version"], target))
