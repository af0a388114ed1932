-- main.lua — arena.world 1.0.0 (docs/arena.md, "Modules"): the map and the
-- players' avatars. On its first tick it generates a 64x64 tile map from
-- MAP_SEED (value noise: walls, meadows, forests, mines), spawns resource
-- nodes on it, and from then on handles `arena:join` (spawn an avatar at a
-- spawn point, kv "user" = player name) and `arena:move` (set a walk target;
-- avatars walk around walls at SPEED per tick). Entity layout conventions
-- (z layer = kind, vz = subtype) are in docs/arena.md.
STATE_SCHEMA = 1

local ONE = 65536            -- Q47.16 fixed point
local SIZE = 64              -- tiles per side
MAP_SEED = 20261124
SPEED = ONE // 2             -- avatar walk speed per tick
-- Resource tiles: terrain code -> {item kind, amount, regen per 300 ticks}
RESOURCES = { [2] = { kind = 3, amount = 20 },    -- forest: wood
              [3] = { kind = 1, amount = 15 },    -- mine: ore
              [4] = { kind = 2, amount = 10 } }   -- meadow: herb
SPAWNS = { {8, 8}, {56, 8}, {8, 56}, {56, 56}, {32, 32} }

local function lcg(s) return (s * 1103515245 + 12345) % 2147483648 end

-- Value noise on an 8-tile lattice, bilinear; returns 0..1023.
local function noise(seed)
  local lat, s = {}, seed
  for i = 0, 80 do s = lcg(s); lat[i] = s % 1024 end
  return function(x, y)
    local gx, gy, fx, fy = x // 8, y // 8, x % 8, y % 8
    local a, b = lat[gy * 9 + gx], lat[gy * 9 + gx + 1]
    local c, d = lat[(gy + 1) * 9 + gx], lat[(gy + 1) * 9 + gx + 1]
    local top = a * (8 - fx) + b * fx
    local bot = c * (8 - fx) + d * fx
    return (top * (8 - fy) + bot * fy) // 64
  end
end

-- Terrain: 0 floor, 1 wall, 2 forest, 3 mine, 4 meadow.
local function gen_map(seed)
  local n, t, s = noise(seed), {}, seed
  for y = 0, SIZE - 1 do
    for x = 0, SIZE - 1 do
      local v, c = n(x, y), 0
      s = lcg(s)
      if v > 860 then c = 1
      elseif v > 780 and s % 7 == 0 then c = 3
      elseif v < 200 and s % 9 == 0 then c = 2
      elseif v > 400 and v < 500 and s % 23 == 0 then c = 4 end
      t[y * SIZE + x] = c
    end
  end
  for _, p in ipairs(SPAWNS) do          -- spawn points stay walkable
    for dy = -2, 2 do for dx = -2, 2 do
      t[(p[2] + dy) * SIZE + p[1] + dx] = 0
    end end
  end
  return t
end

function init(ctx)
  state = { map = nil, avatars = {}, targets = {}, pos = {}, joined = 0,
            nodes = {}, moved = 0 }
end

function walkable(x, y)
  if x < 0 or y < 0 or x >= SIZE or y >= SIZE then return false end
  return state.map[y * SIZE + x] ~= 1
end

local function first_tick()
  state.map = gen_map(MAP_SEED)
  local count = 0
  for y = 0, SIZE - 1 do
    for x = 0, SIZE - 1 do
      local r = RESOURCES[state.map[y * SIZE + x]]
      if r then
        local id = world.spawn(x * ONE, y * ONE, 3 * ONE, 0, 0, r.kind, r.amount)
        if id then state.nodes[#state.nodes + 1] = id; count = count + 1 end
      end
    end
  end
  log.info("arena.world: map generated, " .. count .. " resource nodes")
end

local function join(user)
  if state.avatars[user] or user == "" then return end
  local sp = SPAWNS[(state.joined % #SPAWNS) + 1]
  local x, y = sp[1] * ONE, sp[2] * ONE
  local id = world.spawn(x, y, ONE, 0, 0, 0, 100)
  if not id then return end
  world.kv_set(id, "user", user)
  state.avatars[user] = id
  state.pos[id] = { x, y }
  state.joined = state.joined + 1
end

function on_event(ctx, ev)
  if ev.name == "arena:join:v1:requested" then
    join(ev.user)
  elseif ev.name == "arena:move:v1:requested" then
    local id = state.avatars[ev.user]
    local tx, ty = string.match(ev.payload, "^(%d+) (%d+)$")
    if id and tx then
      tx, ty = tonumber(tx), tonumber(ty)
      if tx < SIZE and ty < SIZE then state.targets[id] = { tx * ONE, ty * ONE } end
    end
  end
end

local function step_axis(c, t)
  if c < t then return math.min(c + SPEED, t) end
  if c > t then return math.max(c - SPEED, t) end
  return c
end

-- Moves every avatar with a target one step; a wall blocks an axis.
local function walk()
  local out, k = {}, 0
  for id, t in pairs(state.targets) do
    local p = state.pos[id]
    local nx, ny = step_axis(p[1], t[1]), step_axis(p[2], t[2])
    if not walkable((nx + ONE // 2) // ONE, (p[2] + ONE // 2) // ONE) then nx = p[1] end
    if not walkable((nx + ONE // 2) // ONE, (ny + ONE // 2) // ONE) then ny = p[2] end
    if nx == p[1] and ny == p[2] then
      state.targets[id] = nil
    else
      p[1], p[2] = nx, ny
      out[k + 1], out[k + 2], out[k + 3], out[k + 4] = id, nx, ny, ONE
      k = k + 4
    end
  end
  if k > 0 then world.set_batch(out); state.moved = state.moved + k // 4 end
end

-- Resource nodes regrow one unit every 300 ticks.
local function regrow(tick)
  if tick % 300 ~= 0 then return end
  for _, id in ipairs(state.nodes) do
    local e = world.get(id)
    if e then
      local cap = ({ 15, 10, 20 })[e.vz] or 10
      if e.health < cap then world.set_health(id, e.health + 1) end
    end
  end
end

function tick(ctx)
  if not state.map then first_tick() end
  walk()
  regrow(ctx.tick)
end
