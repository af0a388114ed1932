#!/usr/bin/env bash
# test_demo.sh — issue 8's done-when for `gosr demo`: a short run
# (--duration 5s) writes report.json and report.html, and the report's
# facts hold: the hot swap of arena.economy happened with no missed tick
# and retired the old version, the operator rollback restored the previous
# version (1.0.0), the AI core's patch went through the pipeline (canary,
# staged rollout) to active at 100 %, its rollback restored the previous
# known-good, the kill switch refused a new patch and was turned on again,
# the ledger verifies and records all of it. A second node (OUT/node2)
# installed and activated the five arena v1 modules from node1's packages
# through the mesh (its active versions equal node1's, both nodes hold the
# packages). Bad arguments are usage errors; --out never deletes a
# directory that is not a demo node (OUT/node or OUT/node2).
# Env: GOSR. Design under test: docs/demo.md.
set -u
GOSR=${GOSR:?set GOSR to the gosr binary}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

"$GOSR" demo --duration 5s --out "$T/out" >"$T/summary" 2>"$T/progress"
rc=$?
[ "$rc" -eq 0 ] || { bad "demo exit $rc"; cat "$T/progress" >&2; }
[ -s "$T/out/report.json" ] || bad "no report.json"
[ -s "$T/out/report.html" ] || bad "no report.html"
grep -q "<svg" "$T/out/report.html" || bad "no plot in report.html"
grep -q "hot_swap" "$T/summary" || bad "summary lacks the swap step"
grep -q "tick [0-9]*: 200 bots in world" "$T/progress" || bad "no progress lines"

python3 - "$T/out/report.json" <<'PY' || bad "report facts"
import json, sys
r = json.load(open(sys.argv[1]))
f = r["facts"]
def need(c, what):
    if not c:
        print("fact check failed:", what, json.dumps(f), file=sys.stderr)
        sys.exit(1)
need(f["swap_active_version"] == "1.1.0", "swap reached 1.1.0")
need(f["swap_missed_ticks"] == 0, "no missed tick around the swap")
need(f["swap_retired"] is True and f["swap_rolled_back"] is False, "probation passed")
need(f["rollback_from_version"] == "1.1.0", "rollback from 1.1.0")
need(f["rollback_restored_version"] == "1.0.0", "rollback restored 1.0.0")
need(f["ledger_intact"] is True, "ledger chain verifies")
rows = [(x["action"], x["subject"], x["version"]) for x in r["ledger"]]
need(("activate", "arena.economy", "1.1.0") in rows, "ledger activate 1.1.0")
need(("retire", "arena.economy", "1.0.0") in rows, "ledger retire 1.0.0")
need(("rollback", "arena.economy", "1.0.0") in rows, "ledger rollback to 1.0.0")
need(sum(1 for a in rows if a[0] == "activate") == 6, "5 modules + the swap activated")
kinds = [m["kind"] for m in r["markers"]]
need("swap" in kinds and "rollback" in kinds, "markers")
need(len(r["ticks"]) > 100, "tick series")
need(set(r["modules"]) == {"arena.world", "arena.npc", "arena.economy",
                           "arena.quests", "arena.dialogue"}, "script time per module")
need(all(k in r["kpis"] for k in ("before_swap", "after_swap", "end")), "kpi phases")
need(r["kpis"]["before_swap"]["economy"]["ver"] == "1.0.0", "kpi before swap from 1.0.0")
need(r["kpis"]["after_swap"]["economy"]["ver"] == "1.1.0", "kpi after swap from 1.1.0")
need(r["bots"]["in_world"] == 200 and r["bots"]["inputs_sent"] > 1000, "200 bots played")
steps = {s["name"]: s["result"] for s in r["steps"]}
need(all(steps[s] == "ok" for s in ("keys", "node", "publish_v1", "hot_swap", "rollback")), "steps ok")
# the AI patch through the whole pipeline, its rollback, the kill switch
need(steps["ai_patch"] == "ok" and f["ai_patch_series"].startswith("arena.economy-patch-"), "AI patch written")
need(steps["canary_and_staged_rollout"] == "ok", "pipeline step ok")
need(f["patch_state"] == "active" and f["patch_rollout_pct"] == 100, "patch reached active at 100%")
need(f["patch_after_rollback"] == "rolled_back" and f["patch_rollback_restored"] == "no patch",
     "patch rollback restored the previous known-good (none)")
need(f["killswitch_refused"] is True and f["killswitch_refusal_reason"] == "policy_ingest_disabled",
     "kill switch refused a new patch")
need(f["killswitch_on_again"] is True, "kill switch on again")
acts = [x["action"] for x in r["ledger"]]
for a in ("patch.draft", "patch.validated", "patch.canary", "patch.approved",
          "patch.active", "patch.rolled_back", "patch.killswitch"):
    need(a in acts, "ledger has " + a)
need(acts.count("patch.active") >= 4, "rollout stages in the ledger")
need(all(k in r["kpis"] for k in ("before_patch", "after_patch")), "kpis around the patch")
need("patch" in kinds, "patch marker")
# the mesh: node2 installed arena v1 from node1's packages, both hold them
need(steps["mesh_install"] == "ok", "mesh_install step ok")
need(steps["mesh_replicas"] == "ok", "mesh_replicas step ok")
names = [s["name"] for s in r["steps"]]
need(names.index("mesh_install") == names.index("publish_v1") + 1, "mesh_install right after publish_v1")
need(f["mesh_installed_modules"] == 5 and f["mesh_node2_same_active"] is True, "node2 runs arena v1")
need(f["mesh_node2_held"] == 5 and f["mesh_replicas"] == 2, "both nodes hold the packages")
need(f["mesh_package_bytes"] > 0 and f["mesh_bytes_received"] > 0, "bytes moved over the mesh")
PY
[ -f "$T/out/node2/registry.db" ] || bad "no OUT/node2"
[ ! -e "$T/out/node2/mesh.json" ] || bad "node2's mesh not stopped cleanly (mesh.json left)"

# a second run into the same OUT replaces the nodes and reuses the keys
ROOTPK=$(cat "$T/out/keys/root/key.pub")
"$GOSR" demo --duration 1s --out "$T/out" --json >"$T/again" 2>/dev/null
[ $? -eq 0 ] || { bad "second run into the same --out failed"; cat "$T/again" >&2; }
[ "$(cat "$T/out/keys/root/key.pub")" = "$ROOTPK" ] || bad "second run replaced the keys"

# usage errors and a directory that is not ours
"$GOSR" demo --duration soon >/dev/null 2>&1
[ $? -eq 2 ] || bad "--duration soon should be a usage error"
"$GOSR" demo --bots 0 >/dev/null 2>&1
[ $? -eq 2 ] || bad "--bots 0 should be a usage error"
mkdir -p "$T/mine/node" && echo keep >"$T/mine/node/precious"
"$GOSR" demo --duration 1s --out "$T/mine" --json >"$T/j" 2>/dev/null
[ $? -eq 1 ] || bad "foreign node dir should fail"
grep -q demo_out_not_ours "$T/j" || bad "reason demo_out_not_ours"
[ -f "$T/mine/node/precious" ] || bad "foreign file deleted"
mkdir -p "$T/mine2/node2" && echo keep >"$T/mine2/node2/precious"
"$GOSR" demo --duration 1s --out "$T/mine2" --json >"$T/j2" 2>/dev/null
[ $? -eq 1 ] || bad "foreign node2 dir should fail"
grep -q demo_out_not_ours "$T/j2" || bad "node2: reason demo_out_not_ours"
[ -f "$T/mine2/node2/precious" ] || bad "foreign file in node2 deleted"

[ "$fails" -eq 0 ] && echo "test_demo: all checks passed"
exit $((fails > 0))
