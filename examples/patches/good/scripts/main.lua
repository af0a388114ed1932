-- examples/patches/good: a patch layer script (docs/patch.md, "Scripts").
-- Every tick it reports the economy level (base price x the patch's gold
-- multiplier) and counts quest starts/completions from the inputs, so the
-- canary and the staged rollout have KPIs to compare.
local started, done = 0, 0

function on_event(ctx, ev)
  if ev.name == "test:poison:v1:requested" and POISON then
    error("poisoned input")
  end
  started = started + 1
  if rng.int(0, 3) > 0 then done = done + 1 end
end

function tick(ctx)
  local eco = patch.get("economy_tuning")
  local m = eco and eco.multipliers and eco.multipliers.gold or 1.0
  kpi.report("economy", 100 * m)
  kpi.report("quest_started", started)
  kpi.report("quest_completed", done)
  started, done = 0, 0
  local ids = world.ids(0, 16)
  for i = 1, #ids do
    local e = world.get(ids[i])
    if e and e.health < 100 then world.set_health(ids[i], e.health + 1) end
  end
end
