-- main.lua — arena.economy 1.1.0 (docs/arena.md, "Economy"): accounts
-- (gold + items per player), merchant prices that move with supply, the
-- faucets (selling to merchants, loot pickups) and the sinks (sales tax,
-- potions, upkeep), player-to-player trades, and the KPIs written every
-- 30 ticks as kv entries on the bank entity (z layer 9) where the demo
-- and any reader of the world arena find them.
STATE_SCHEMA = 1
VERSION = "1.1.0"

local ONE = 65536
RANGE = 2 * ONE
ITEMS = { "iron-ore", "herb", "wood", "potion" }  -- names in economy_tuning
BASE_PRICE = { 8000, 5000, 4000, 12000 }  -- milli-gold
TAX_PERMILLE = 80                          -- sales tax (sink)
SUPPLY_DROP_PERMILLE = 10                  -- price drop per unit sold
RECOVER_PERMILLE = 5                       -- recovery toward base / 30 ticks
UPKEEP = 1000                              -- milli-gold per 600 ticks if rich
START_GOLD = 20000

function init(ctx)
  state = { acct = {}, bind = {}, owner = {}, price = { 8000, 5000, 4000, 12000 },
            minted = 0, sunk = 0, trades = 0, sales = 0, gathers = 0,
            loots = 0, potions = 0, bank = nil, dirty = {} }
end

-- The active patch's economy_tuning (docs/patch.md) scales a price by the
-- item's multiplier for this owner's rollout cohort; without a patch layer
-- (or no patch active) the module's own prices apply.
local function tuned(item, owner)
  local p = state.price[item]
  if patch and patch.get then
    local eco = patch.get("economy_tuning", owner)
    local m = eco and eco.multipliers and eco.multipliers[ITEMS[item]]
    if type(m) == "number" then p = math.floor(p * m) end
  end
  return p
end

function claim(user, id)
  if state.bind[user] then return state.bind[user] == id end
  if state.owner[id] then return false end
  local e = world.get(id)
  if not e or e.z ~= ONE then return false end
  state.bind[user], state.owner[id] = id, user
  state.acct[user] = { gold = START_GOLD, inv = { 0, 0, 0, 0 } }
  state.minted = state.minted + START_GOLD
  state.dirty[user] = true
  return true
end

local function near_kind(av, id, z)
  local a, e = world.get(av), world.get(id)
  if not a or not e or e.z ~= z * ONE then return nil end
  if math.abs(a.x - e.x) > RANGE or math.abs(a.y - e.y) > RANGE then return nil end
  return e
end

local function gather(u, a, r)
  local e = near_kind(a, r, 3)
  if not e or e.health <= 0 or not ITEMS[e.vz] then return end
  world.set_health(r, e.health - 1)
  state.acct[u].inv[e.vz] = state.acct[u].inv[e.vz] + 1
  state.gathers = state.gathers + 1
end

local function loot(u, a, l)
  local e = near_kind(a, l, 5)
  if not e then return end
  world.despawn(l)
  state.acct[u].gold = state.acct[u].gold + e.health * 1000
  state.minted = state.minted + e.health * 1000
  state.loots = state.loots + 1
end

local function sell(u, a, m, item, qty)
  local ac = state.acct[u]
  if item > 3 or qty < 1 or ac.inv[item] < qty or not near_kind(a, m, 4) then return end
  local gross = tuned(item, a) * qty
  local tax = gross * TAX_PERMILLE // 1000
  ac.inv[item] = ac.inv[item] - qty
  ac.gold = ac.gold + gross - tax
  state.minted = state.minted + gross
  state.sunk = state.sunk + tax
  state.sales = state.sales + 1
  local p = state.price[item] - state.price[item] * SUPPLY_DROP_PERMILLE * qty // 1000
  state.price[item] = math.max(p, BASE_PRICE[item] // 4)
end

local function buy(u, a, m, item, qty)
  local ac = state.acct[u]
  local cost = tuned(4, a) * qty
  if item ~= 4 or qty < 1 or ac.gold < cost or not near_kind(a, m, 4) then return end
  ac.gold = ac.gold - cost
  ac.inv[4] = ac.inv[4] + qty
  state.sunk = state.sunk + cost
  state.potions = state.potions + qty
end

local function drink(u, a)
  local ac, e = state.acct[u], world.get(a)
  if ac.inv[4] < 1 or not e then return end
  ac.inv[4] = ac.inv[4] - 1
  world.set_health(a, math.min(e.health + 40, 100))
end

-- A market order: the seller gives qty items to `buyer` for `price` each
-- (milli-gold), taxed; refused when the buyer cannot pay.
local function trade(u, buyer, item, qty, price)
  local s, b = state.acct[u], state.acct[buyer]
  if not b or buyer == u or item > 4 or qty < 1 or s.inv[item] < qty then return end
  local total = price * qty
  if price < 1 or b.gold < total then return end
  local tax = total * TAX_PERMILLE // 1000
  s.inv[item], b.inv[item] = s.inv[item] - qty, b.inv[item] + qty
  b.gold, s.gold = b.gold - total, s.gold + total - tax
  state.sunk = state.sunk + tax
  state.trades = state.trades + 1
  state.dirty[buyer] = true
end

local ACTIONS = {
  ["arena:gather:v1:requested"] = function(u, a, x) gather(u, a, x[1] or 0) end,
  ["arena:loot:v1:requested"] = function(u, a, x) loot(u, a, x[1] or 0) end,
  ["arena:sell:v1:requested"] = function(u, a, x) sell(u, a, x[1] or 0, x[2] or 0, x[3] or 0) end,
  ["arena:buy:v1:requested"] = function(u, a, x) buy(u, a, x[1] or 0, x[2] or 0, x[3] or 0) end,
  ["arena:use:v1:requested"] = function(u, a, x) drink(u, a) end,
}

function on_event(ctx, ev)
  if ev.name == "arena:trade:v1:requested" then
    local a, buyer, i, q, p = string.match(ev.payload, "^(%d+) (%S+) (%d+) (%d+) (%d+)$")
    if a and claim(ev.user, tonumber(a)) then
      trade(ev.user, buyer, tonumber(i), tonumber(q), tonumber(p))
      state.dirty[ev.user] = true
    end
    return
  end
  local f = ACTIONS[ev.name]
  if not f then return end
  local nums = {}
  for n in string.gmatch(ev.payload, "%d+") do nums[#nums + 1] = tonumber(n) end
  local a = table.remove(nums, 1)
  if not a or not claim(ev.user, a) then return end
  f(ev.user, a, nums)
  state.dirty[ev.user] = true
end

local function flush_accounts()
  for u in pairs(state.dirty) do
    local ac, id = state.acct[u], state.bind[u]
    if ac and id then
      world.kv_set(id, "gold", tostring(ac.gold // 1000))
      world.kv_set(id, "inv", ac.inv[1] .. " " .. ac.inv[2] .. " " .. ac.inv[3] .. " " .. ac.inv[4])
    end
  end
  state.dirty = {}
end

local function kpis()
  local supply, players = 0, 0
  for _, ac in pairs(state.acct) do supply = supply + ac.gold; players = players + 1 end
  local b = state.bank
  world.kv_set(b, "ver", VERSION)
  world.kv_set(b, "supply", tostring(supply))
  world.kv_set(b, "minted", tostring(state.minted))
  world.kv_set(b, "sunk", tostring(state.sunk))
  world.kv_set(b, "flows", state.sales .. " " .. state.trades .. " " .. state.gathers .. " " .. state.loots .. " " .. state.potions)
  world.kv_set(b, "prices", table.concat(state.price, " "))
  world.kv_set(b, "players", tostring(players))
end

function tick(ctx)
  if kpi and kpi.report then
    kpi.report("economy", (state.price[1] + state.price[2] + state.price[3]) // 3)
  end
  if not state.bank then state.bank = world.spawn(0, 0, 9 * ONE, 0, 0, 0, 1) end
  flush_accounts()
  if ctx.tick % 30 == 0 then
    for i = 1, 4 do
      local p = state.price[i]
      state.price[i] = p + (BASE_PRICE[i] - p) * RECOVER_PERMILLE // 1000
    end
    kpis()
  end
  if ctx.tick % 600 == 0 then
    for u, ac in pairs(state.acct) do
      if ac.gold > 50000 then
        ac.gold = ac.gold - UPKEEP; state.sunk = state.sunk + UPKEEP; state.dirty[u] = true
      end
    end
  end
end

-- 1.1.0: sales tax 5% -> 8% (a stronger sink). The state keeps its shape
-- (STATE_SCHEMA stays 1, so a rollback to 1.0.0 carries it back);
-- `migrated_from` records the swap (docs/arena.md, "Versions").
function migrate(old)
  old.migrated_from = "1.0.0"
  return old
end
