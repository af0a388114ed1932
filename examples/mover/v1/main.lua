-- main.lua — mover v1 (examples/mover/README.md): moves every entity by
-- STEP along x each tick, processing entities in bulk.
STATE_SCHEMA = 1
STEP = 1 * 65536 -- Q47.16 fixed point: 1.0 world units

function init(ctx)
  state = { spawned = false, ticks = 0 }
end

function tick(ctx)
  if not state.spawned then
    for i = 1, 8 do world.spawn(0, i * 65536, 0, 0, 0, 0, 100) end
    state.spawned = true
  end
  state.ticks = state.ticks + 1

  local cur = 0
  repeat
    local b, nxt = world.query(cur, 4096)
    local out, k = {}, 0
    for i = 1, #b, 7 do
      out[k + 1] = b[i]
      out[k + 2] = b[i + 1] + STEP
      out[k + 3] = b[i + 2]
      out[k + 4] = b[i + 3]
      k = k + 4
    end
    if k > 0 then world.set_batch(out) end
    cur = nxt
  until cur == 0
end
