-- The request of Pylon's load benchmark (bench/run.sh, bench/ab.sh), by MODE: proxy sends
-- wrk's plain GET; llm-chat and llm-stream a typical small chat call, as an OpenAI SDK
-- sends it (llm-stream streamed, asking for usage).
local mode = os.getenv("MODE") or "proxy"
if mode ~= "proxy" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer sk-client"
  local stream = ""
  if mode == "llm-stream" then stream = ',"stream":true,"stream_options":{"include_usage":true}' end
  wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
    '{"role":"user","content":"Say hello in one short sentence."}],"temperature":0.7,"max_tokens":64' .. stream .. '}'
end
