-- main.lua — counter (tests/kernel): counts its ticks in `state`, spawns
-- one entity per tick for its first 6 ticks with the count in the world's
-- kv, despawns the second one on tick 7 (a free slot below the high mark).
-- Its checkpoints exercise entities, free slots, kv entries and a nested
-- state table (fuzz/corpus/fuzz_checkpoint seeds, docs/kernel.md).
STATE_SCHEMA = 1

function init(ctx)
  state = { ticks = 0, ids = {}, name = "counter" }
end

function tick(ctx)
  state.ticks = state.ticks + 1
  if state.ticks <= 6 then
    local id = world.spawn(state.ticks * 65536, 0, 0, 0, 0, 0, 50)
    state.ids[#state.ids + 1] = id
    world.kv_set(id, "count", tostring(state.ticks))
  elseif state.ticks == 7 then
    world.despawn(state.ids[2])
  end
end
