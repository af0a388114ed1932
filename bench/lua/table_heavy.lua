-- table-heavy: hash and array inserts, lookups, removal, sort, iteration.
local total = 0
for round = 1, 8 do
  local h = {}
  for i = 1, 50000 do h["k" .. (i % 5000)] = (h["k" .. (i % 5000)] or 0) + i end
  local arr = {}
  for i = 1, 50000 do arr[#arr + 1] = (i * 7919) % 10007 end
  table.sort(arr)
  for i = 1, 40 do table.insert(arr, 1, i); table.remove(arr) end
  local s = 0
  for i, v in ipairs(arr) do s = s + v * (i % 3) end
  for k, v in pairs(h) do s = s + v % 7 end
  local objs = {}
  for i = 1, 20000 do objs[i] = {id = i, hp = i % 100, pos = {x = i, y = -i}} end
  for i = 1, #objs do local o = objs[i]; o.hp = o.hp + o.pos.x % 3 end
  total = total + s + #objs + objs[#objs].hp
end
return total
