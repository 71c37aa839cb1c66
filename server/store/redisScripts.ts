/*
 * The Lua scripts of RedisStore (server/store/redis.ts): each is one atomic step
 * on one room's keys. A refusal is an error reply whose first word is its kind,
 * CONFLICT, NOT_FOUND or FENCED, which the store turns into a ChatError of that code.
 */

/**
 * The owner check of a room write (docs/cluster.md, Fencing): takes the epoch off
 * the front of ARGV ('' = not fenced) and refuses the write unless it is the room's
 * (KEYS[1]) current ownerEpoch. The check runs in the script that writes.
 */
const FENCE = `
local epoch = table.remove(ARGV, 1)
if epoch ~= '' then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    return redis.error_reply('NOT_FOUND room ' .. ARGV[1] .. ' does not exist')
  end
  local owner = redis.call('HGET', KEYS[1], 'ownerEpoch') or '0'
  if owner ~= epoch then
    return redis.error_reply('FENCED room ' .. ARGV[1] .. ' is owned by epoch ' .. owner .. ', not ' .. epoch)
  end
end`;

/** Throws a Redis error unless the room hash exists. */
const ROOM_EXISTS = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('NOT_FOUND room ' .. ARGV[1] .. ' does not exist')
end`;


/**
 * Appends the n events ARGV[5..4+n] to the outbox stream and lists the room
 * (ARGV[1]) in the outboxes set: the outbox half of a record's write.
 */
const outboxAppend = (outbox: string, outboxes: string) => `
for i = 5, 4 + n do redis.call('XADD', ${outbox}, '*', 'e', ARGV[i]) end
if n > 0 then redis.call('SADD', ${outboxes}, ARGV[1]) end`;

export const SCRIPTS = {
  // KEYS: room   ARGV: field, value, ...
  ccCreateRoom: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV))
end
return redis.call('HGETALL', KEYS[1])`,
  },

  // KEYS: room   ARGV: roomId, userId, ...
  ccAddMembers: {
    numberOfKeys: 1,
    lua: `${FENCE}${ROOM_EXISTS}
local members = cjson.decode(redis.call('HGET', KEYS[1], 'members') or '[]')
local seen = {}
for _, m in ipairs(members) do seen[m] = true end
local added = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if not seen[id] then
    seen[id] = true
    members[#members + 1] = id
    added = added + 1
  end
end
if added > 0 then redis.call('HSET', KEYS[1], 'members', cjson.encode(members)) end
return added`,
  },

  // KEYS: room, conv, outbox, outboxes   ARGV: roomId, conversationId, startedAt, n, n events, field, value, ...
  ccStartConversation: {
    numberOfKeys: 4,
    lua: `${FENCE}${ROOM_EXISTS}
local active = redis.call('HGET', KEYS[1], 'activeConversationId')
if active and active ~= '' and active ~= ARGV[2] then
  return redis.error_reply('CONFLICT room ' .. ARGV[1] .. ' already has active conversation ' .. active)
end
local existing = redis.call('HGET', KEYS[2], 'state')
if existing == 'ended' then
  return redis.error_reply('CONFLICT conversation ' .. ARGV[2] .. ' has already ended')
end
local n = tonumber(ARGV[4])
if not existing then ${outboxAppend("KEYS[3]", "KEYS[4]")} end
local counters = { firstSeq = true, lastSeq = true, messageCount = true }
for i = 5 + n, #ARGV, 2 do
  -- a repeated start of the active conversation keeps the store's own counters
  if not (existing and counters[ARGV[i]]) then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], 'activeConversationId', ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[1], 'lastActivityAt') or '0')
if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[1], 'lastActivityAt', ARGV[3]) end
return 1`,
  },

  // KEYS: room, conv   ARGV: roomId, conversationId, participants, channelSessions
  ccSaveConversation: {
    numberOfKeys: 2,
    lua: `${FENCE}${ROOM_EXISTS}
if redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.error_reply('NOT_FOUND conversation ' .. ARGV[2] .. ' does not exist')
end
redis.call('HSET', KEYS[2], 'participants', ARGV[3], 'channelSessions', ARGV[4])
return 1`,
  },

  // KEYS: room, conv, outbox, outboxes   ARGV: roomId, conversationId, csat, n, n events
  ccRateConversation: {
    numberOfKeys: 4,
    lua: `${FENCE}
local state = redis.call('HGET', KEYS[2], 'state')
if not state then
  return redis.error_reply('NOT_FOUND conversation ' .. ARGV[2] .. ' does not exist')
end
if state ~= 'ended' then
  return redis.error_reply('CONFLICT conversation ' .. ARGV[2] .. ' has not ended: it is rated after its end')
end
redis.call('HSET', KEYS[2], 'csat', ARGV[3])
local n = tonumber(ARGV[4])
${outboxAppend("KEYS[3]", "KEYS[4]")}
return 1`,
  },

  // KEYS: room, conv, past, outbox, outboxes   ARGV: roomId, conversationId, startedAt, n, n events, field, value, ...
  // returns 1 when the conversation ended now, 0 when it had ended before
  ccEndConversation: {
    numberOfKeys: 5,
    lua: `${FENCE}${ROOM_EXISTS}
local state = redis.call('HGET', KEYS[2], 'state')
if not state then
  return redis.error_reply('NOT_FOUND conversation ' .. ARGV[2] .. ' does not exist')
end
if state == 'ended' then return 0 end
local n = tonumber(ARGV[4])
redis.call('HSET', KEYS[2], unpack(ARGV, 5 + n))
${outboxAppend("KEYS[4]", "KEYS[5]")}
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[1], 'pastConversations', redis.call('ZCARD', KEYS[3]))
if redis.call('HGET', KEYS[1], 'activeConversationId') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'activeConversationId', '')
end
return 1`,
  },

  // KEYS: room, conv, msgs, idem, outbox, outboxes
  // ARGV: roomId, idempotency field, stream key base (msgs:{R}:), conversationId, at, kind, message JSON, events...
  // returns {'new', seq} or {'dup', seq, message JSON}
  ccAppendMessage: {
    numberOfKeys: 6,
    lua: `${FENCE}
local prev = redis.call('HGET', KEYS[4], ARGV[2])
if prev then
  local seq, conv = string.match(prev, '^(%d+):(.*)$')
  -- the stored message may be in another conversation of the same room (same slot)
  local entries = redis.call('XRANGE', ARGV[3] .. conv, seq .. '-0', seq .. '-0')
  if entries[1] then
    local fields = entries[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'd' then return { 'dup', tonumber(seq), fields[i + 1] } end
    end
  end
  return redis.error_reply('NOT_FOUND message ' .. seq .. ' of room ' .. ARGV[1] .. ' is missing')
end
${ROOM_EXISTS}
if redis.call('HGET', KEYS[2], 'state') ~= 'active' then
  return redis.error_reply('CONFLICT conversation ' .. ARGV[4] .. ' is not active')
end
local seq = redis.call('HINCRBY', KEYS[1], 'lastSeq', 1)
-- o: the owner epoch that wrote the message (docs/storage.md)
redis.call('XADD', KEYS[3], seq .. '-0', 'k', ARGV[6], 'd', ARGV[7], 'o', redis.call('HGET', KEYS[1], 'ownerEpoch') or '0')
for i = 8, #ARGV do
  -- the message's outbox events, with its seq where the mark stands (SEQ_MARK)
  redis.call('XADD', KEYS[5], '*', 'e', (string.gsub(ARGV[i], '\\1seq\\1', tostring(seq))))
end
if #ARGV >= 8 then redis.call('SADD', KEYS[6], ARGV[1]) end
redis.call('HSET', KEYS[4], ARGV[2], seq .. ':' .. ARGV[4])
if tonumber(redis.call('HGET', KEYS[2], 'firstSeq') or '0') == 0 then
  redis.call('HSET', KEYS[2], 'firstSeq', seq)
end
redis.call('HSET', KEYS[2], 'lastSeq', seq)
redis.call('HINCRBY', KEYS[2], 'messageCount', 1)
local last = tonumber(redis.call('HGET', KEYS[1], 'lastActivityAt') or '0')
if tonumber(ARGV[5]) > last then redis.call('HSET', KEYS[1], 'lastActivityAt', ARGV[5]) end
return { 'new', seq }`,
  },

  // KEYS: room, epochs   ARGV: roomId   returns the new owner epoch (larger than any handed out)
  ccActivateRoom: {
    numberOfKeys: 2,
    lua: `${ROOM_EXISTS}
local epoch = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'ownerEpoch', epoch)
return epoch`,
  },

  // KEYS: room, idle   ARGV: epoch, roomId, deadline ('' clears it)
  ccFencedDeadline: {
    numberOfKeys: 2,
    lua: `${FENCE}
if ARGV[2] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1]) end
return 1`,
  },

  // KEYS: room, outbox, outboxes   ARGV: epoch, roomId, payload, ...
  ccFencedOutbox: {
    numberOfKeys: 3,
    lua: `${FENCE}
for i = 2, #ARGV do redis.call('XADD', KEYS[2], '*', 'e', ARGV[i]) end
if #ARGV > 1 then redis.call('SADD', KEYS[3], ARGV[1]) end
return 1`,
  },

  // KEYS: room (of the team room), queue   ARGV: epoch, roomId, requests JSON
  ccFencedQueue: {
    numberOfKeys: 2,
    lua: `${FENCE}
redis.call('SET', KEYS[2], ARGV[2])
return 1`,
  },

  // KEYS: outbox   ARGV: entry id, ...   returns the entries left (an emptied stream is deleted)
  ccOutboxRemove: {
    numberOfKeys: 1,
    lua: `
if #ARGV > 0 then redis.call('XDEL', KEYS[1], unpack(ARGV)) end
local left = redis.call('XLEN', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1]) end
return left`,
  },

  // KEYS: lease   ARGV: owner, ttlMs   returns 1 when owner holds the lease now
  ccOutboxLease: {
    numberOfKeys: 1,
    lua: `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
  },

  // KEYS: lease   ARGV: owner
  ccOutboxRelease: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`,
  },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
