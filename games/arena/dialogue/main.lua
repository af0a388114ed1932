-- main.lua — arena.dialogue 1.0.0 (docs/arena.md, "Dialogue"): small
-- dialogue trees per speaker kind (merchant z=4, quest giver z=6, monster
-- z=2). `arena:talk` payload "AVATAR SPEAKER [CHOICE]": the player's node
-- in that speaker's tree advances by the choice (default 1) and the line
-- said is written as kv "line" on the avatar (bots and clients read it).
STATE_SCHEMA = 1

local ONE = 65536
RANGE = 3 * ONE
-- TREES[z][node] = { line, next node per choice }
TREES = {
  [4] = { { "Fine wares, fair prices.", { 2, 3 } },
          { "Ore sells best when few sell it.", { 1 } },
          { "Potions: forty health a sip.", { 1 } } },
  [6] = { { "Adventurer! I have work.", { 2, 3 } },
          { "Finish the task, then come back.", { 1 } },
          { "The dens lie north and east.", { 1 } } },
  [2] = { { "Grrr...", { 2 } }, { "*snarls*", { 1 } } },
}

function init(ctx)
  state = { at = {}, bind = {}, owner = {}, talks = 0 }
end

function claim(user, id)
  if state.bind[user] then return state.bind[user] == id end
  if state.owner[id] then return false end
  local e = world.get(id)
  if not e or e.z ~= ONE then return false end
  state.bind[user], state.owner[id] = id, user
  return true
end

function on_event(ctx, ev)
  if ev.name ~= "arena:talk:v1:requested" then return end
  local a, s, c = string.match(ev.payload, "^(%d+) (%d+) ?(%d*)$")
  a, s = tonumber(a), tonumber(s)
  if not a or not claim(ev.user, a) then return end
  local av, sp = world.get(a), world.get(s)
  if not av or not sp then return end
  if math.abs(av.x - sp.x) > RANGE or math.abs(av.y - sp.y) > RANGE then return end
  local tree = TREES[sp.z // ONE]
  if not tree then return end
  local key = ev.user .. "/" .. (sp.z // ONE)
  local node = tree[state.at[key] or 1]
  world.kv_set(a, "line", node[1])
  local choice = tonumber(c) or 1
  state.at[key] = node[2][choice] or node[2][1]
  state.talks = state.talks + 1
end
