-- main.lua — arena.quests 1.0.0 (docs/arena.md, "Quests"): quest givers
-- (z layer 6) hand out quests from TEMPLATES (gather N of an item, hunt N
-- monsters, explore a place); progress follows the player's requests;
-- turning a finished quest in drops its gold reward as loot (z layer 5) at
-- the player's feet, which arena.economy credits on pickup.
-- Payload of `arena:quest`: "AVATAR accept GIVER" | "AVATAR turnin GIVER".
STATE_SCHEMA = 1

local ONE = 65536
RANGE = 2 * ONE
TEMPLATES = {
  { kind = "gather", item = 1, need = 4, reward = 30, text = "Bring me 4 ore" },
  { kind = "gather", item = 3, need = 6, reward = 24, text = "Fetch 6 wood" },
  { kind = "gather", item = 2, need = 3, reward = 20, text = "Pick 3 herbs" },
  { kind = "hunt", need = 5, reward = 40, text = "Strike 5 monsters" },
  { kind = "explore", x = 32, y = 10, need = 1, reward = 25, text = "Scout the north den" },
  { kind = "explore", x = 54, y = 32, need = 1, reward = 25, text = "Scout the east den" },
}

function init(ctx)
  state = { bind = {}, owner = {}, q = {}, offered = 0, accepted = 0,
            completed = 0, rewarded = 0, board = nil, dirty = {} }
end

function claim(user, id)
  if state.bind[user] then return state.bind[user] == id end
  if state.owner[id] then return false end
  local e = world.get(id)
  if not e or e.z ~= ONE then return false end
  state.bind[user], state.owner[id] = id, user
  return true
end

local function near(a, b)
  return math.abs(a.x - b.x) <= RANGE and math.abs(a.y - b.y) <= RANGE
end

local function target_ok(av, id, z)
  local a, e = world.get(av), world.get(id)
  return a and e and e.z == z * ONE and near(a, e), e
end

local function accept(u, a, giver)
  if state.q[u] or not target_ok(a, giver, 6) then return end
  state.offered = state.offered + 1
  local t = (state.offered + giver) % #TEMPLATES + 1
  state.q[u] = { t = t, have = 0 }
  state.accepted = state.accepted + 1
  if kpi and kpi.report then kpi.report("quest_started", 1) end
end

local function turnin(u, a, giver)
  local q = state.q[u]
  if not q or not target_ok(a, giver, 6) then return end
  local t = TEMPLATES[q.t]
  if t.kind == "explore" then return end            -- explore ends on arrival
  if q.have < t.need then return end
  local e = world.get(a)
  world.spawn(e.x, e.y, 5 * ONE, 0, 0, 0, t.reward)
  state.q[u] = nil
  state.completed = state.completed + 1
  state.rewarded = state.rewarded + t.reward
  if kpi and kpi.report then kpi.report("quest_completed", 1) end
end

local function progress(u, a, target, z)
  local q = state.q[u]
  if not q or not claim(u, a) then return end
  local t = TEMPLATES[q.t]
  local ok, e = target_ok(a, target, z)
  if not ok then return end
  if (t.kind == "gather" and z == 3 and e.vz == t.item) or (t.kind == "hunt" and z == 2) then
    q.have = math.min(q.have + 1, t.need)
    state.dirty[u] = true
  end
end

function on_event(ctx, ev)
  local u = ev.user
  if ev.name == "arena:quest:v1:requested" then
    local a, verb, g = string.match(ev.payload, "^(%d+) (%a+) (%d+)$")
    a, g = tonumber(a), tonumber(g)
    if not a or not claim(u, a) then return end
    if verb == "accept" then accept(u, a, g) elseif verb == "turnin" then turnin(u, a, g) end
    state.dirty[u] = true
  elseif ev.name == "arena:gather:v1:requested" or ev.name == "arena:attack:v1:requested" then
    local a, x = string.match(ev.payload, "^(%d+) (%d+)")
    if a then progress(u, tonumber(a), tonumber(x), ev.name == "arena:gather:v1:requested" and 3 or 2) end
  end
end

-- Explore quests finish when the avatar stands on the spot.
local function explore(u, q)
  local t = TEMPLATES[q.t]
  local e = world.get(state.bind[u])
  if not e or math.abs(e.x - t.x * ONE) > RANGE or math.abs(e.y - t.y * ONE) > RANGE then return end
  world.spawn(e.x, e.y, 5 * ONE, 0, 0, 0, t.reward)
  state.q[u] = nil
  state.completed = state.completed + 1
  state.rewarded = state.rewarded + t.reward
  state.dirty[u] = true
  if kpi and kpi.report then kpi.report("quest_completed", 1) end
end

function tick(ctx)
  if not state.board then state.board = world.spawn(ONE, 0, 10 * ONE, 0, 0, 0, 1) end
  if ctx.tick % 10 == 0 then
    for u, q in pairs(state.q) do
      if TEMPLATES[q.t].kind == "explore" then explore(u, q) end
    end
  end
  for u in pairs(state.dirty) do
    local q, id = state.q[u], state.bind[u]
    if id then
      if q then
        local t = TEMPLATES[q.t]
        world.kv_set(id, "quest", t.kind .. " " .. (t.item or t.x or 0) .. " " .. (t.y or 0) .. " " .. t.need .. " " .. q.have)
      else
        world.kv_set(id, "quest", "none")
      end
    end
  end
  state.dirty = {}
  if ctx.tick % 30 == 0 then
    world.kv_set(state.board, "stats", state.accepted .. " " .. state.completed .. " " .. state.rewarded)
  end
end
