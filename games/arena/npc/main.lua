-- main.lua — arena.npc 1.0.0 (docs/arena.md, "Modules"): monsters with a
-- state machine (idle -> patrol -> fight -> flee -> idle, death -> loot
-- drop and respawn) and the townsfolk (merchants z=4, quest givers z=6).
-- Handles `arena:attack` ("AVATAR NPC"): range check, damage, aggro.
-- A user's avatar is bound on first claim (docs/arena.md, "Avatars").
STATE_SCHEMA = 1

local ONE = 65536
RANGE = 2 * ONE                       -- melee reach
-- Monster types (vz): hp, damage to avatars, gold dropped, patrol radius.
TYPES = { { name = "slime", hp = 30, dmg = 3, gold = 6, roam = 4 },
          { name = "wolf",  hp = 50, dmg = 5, gold = 11, roam = 6 },
          { name = "ogre",  hp = 90, dmg = 9, gold = 25, roam = 3 } }
HOMES = { {16, 16}, {48, 16}, {16, 48}, {48, 48}, {32, 10}, {32, 54},
          {10, 32}, {54, 32} }
PER_HOME = 6
TOWNSFOLK = { { z = 4, x = 30, y = 30 }, { z = 4, x = 34, y = 34 },
              { z = 6, x = 30, y = 34 }, { z = 6, x = 34, y = 30 },
              { z = 4, x = 10, y = 10 }, { z = 6, x = 54, y = 54 } }
RESPAWN = 150                         -- ticks until a dead monster returns

function init(ctx)
  state = { mobs = {}, dead = {}, bind = {}, owner = {}, kills = 0,
            knockouts = 0, spawned = false, hits = 0 }
end

local function spawn_mob(home, kind)
  local t = TYPES[kind]
  local x, y = HOMES[home][1] * ONE, HOMES[home][2] * ONE
  local id = world.spawn(x, y, 2 * ONE, 0, 0, kind, t.hp)
  if id then
    state.mobs[id] = { home = home, kind = kind, st = "idle", wait = 0,
                       tx = x, ty = y, x = x, y = y, foe = nil }
  end
end

local function first_tick()
  for h = 1, #HOMES do
    for i = 1, PER_HOME do spawn_mob(h, (h + i) % #TYPES + 1) end
  end
  for _, f in ipairs(TOWNSFOLK) do world.spawn(f.x * ONE, f.y * ONE, f.z * ONE, 0, 0, 0, 1000) end
  state.spawned = true
end

-- The avatar `id` may act for `user`: binds on first claim of an avatar.
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

local function die(id, m)
  world.despawn(id)
  world.spawn(m.x, m.y, 5 * ONE, 0, 0, 0, TYPES[m.kind].gold)
  state.mobs[id] = nil
  state.dead[#state.dead + 1] = { home = m.home, kind = m.kind, at = 0 }
  state.kills = state.kills + 1
end

local function attack(ev)
  local a, n = string.match(ev.payload, "^(%d+) (%d+)$")
  a, n = tonumber(a), tonumber(n)
  local m = n and state.mobs[n]
  if not m or not claim(ev.user, a) then return end
  local av, e = world.get(a), world.get(n)
  if not av or not e or not near(av, e) then return end
  local hp = e.health - (8 + rng.int(0, 6))
  state.hits = state.hits + 1
  if hp <= 0 then die(n, m) return end
  world.set_health(n, hp)
  m.foe = a
  m.st = (hp * 10 < TYPES[m.kind].hp * 3) and "flee" or "fight"
end

function on_event(ctx, ev)
  if ev.name == "arena:attack:v1:requested" then attack(ev) end
end

local function toward(m, tx, ty, sp)
  if m.x < tx then m.x = math.min(m.x + sp, tx) elseif m.x > tx then m.x = math.max(m.x - sp, tx) end
  if m.y < ty then m.y = math.min(m.y + sp, ty) elseif m.y > ty then m.y = math.max(m.y - sp, ty) end
end

-- One step of a monster's state machine; returns true when it moved.
local function think(id, m)
  local t = TYPES[m.kind]
  if m.st == "idle" then
    m.wait = m.wait - 1
    if m.wait <= 0 then
      local h = HOMES[m.home]
      m.tx = (h[1] + rng.int(-t.roam, t.roam)) * ONE
      m.ty = (h[2] + rng.int(-t.roam, t.roam)) * ONE
      m.st = "patrol"
    end
    return false
  elseif m.st == "patrol" then
    toward(m, m.tx, m.ty, ONE // 8)
    if m.x == m.tx and m.y == m.ty then m.st = "idle"; m.wait = rng.int(20, 90) end
    return true
  end
  local foe = m.foe and world.get(m.foe)
  if not foe then m.st = "idle"; m.foe = nil; return false end
  if m.st == "flee" then
    local h = HOMES[m.home]
    toward(m, h[1] * ONE + (m.x - foe.x), h[2] * ONE + (m.y - foe.y), ONE // 4)
    if not near(m, foe) then m.st = "idle"; m.wait = 60 end
    return true
  end
  if near(m, foe) then                        -- fight: strike every 15 ticks
    m.wait = m.wait - 1
    if m.wait <= 0 then
      m.wait = 15
      local hp = foe.health - t.dmg
      if hp <= 0 then hp = 100; m.st = "idle"; m.foe = nil; state.knockouts = state.knockouts + 1 end
      world.set_health(foe.id, hp)
    end
    return false
  end
  toward(m, foe.x, foe.y, ONE // 4)
  return true
end

function tick(ctx)
  if not state.spawned then first_tick() end
  local out, k = {}, 0
  for id, m in pairs(state.mobs) do
    if think(id, m) then
      out[k + 1], out[k + 2], out[k + 3], out[k + 4] = id, m.x, m.y, 2 * ONE
      k = k + 4
    end
  end
  if k > 0 then world.set_batch(out) end
  local left = {}
  for _, d in ipairs(state.dead) do
    d.at = d.at + 1
    if d.at >= RESPAWN then spawn_mob(d.home, d.kind) else left[#left + 1] = d end
  end
  state.dead = left
end
