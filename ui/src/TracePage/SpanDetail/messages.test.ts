import { describe, expect, it } from "vitest";
import { extractConversation, toMessages } from "./messages";

describe("extractConversation", () => {
  it("reads OpenTelemetry GenAI messages with parts, tool calls and tool results", () => {
    const conv = extractConversation({
      "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "Be brief." }]),
      "gen_ai.input.messages": JSON.stringify([
        { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
        { role: "assistant", parts: [{ type: "tool_call", id: "c1", name: "weather", arguments: { city: "Paris" } }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "c1", response: "rainy" }] },
      ]),
      "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "text", content: "Rainy." }], finish_reason: "stop" }]),
    });
    expect(conv?.inputSource).toBe("gen_ai.input.messages");
    expect(conv?.input.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(conv?.input[0]!.parts).toEqual([{ type: "text", text: "Be brief." }]);
    expect(conv?.input[2]!.parts[0]).toEqual({ type: "tool_call", id: "c1", name: "weather", arguments: '{\n  "city": "Paris"\n}' });
    expect(conv?.input[3]!.parts[0]).toEqual({ type: "tool_result", id: "c1", content: "rainy" });
    expect(conv?.output).toEqual([{ role: "assistant", parts: [{ type: "text", text: "Rainy." }] }]);
  });

  it("reads OpenInference flattened llm.input_messages keys", () => {
    const conv = extractConversation({
      "llm.input_messages.1.message.role": "user",
      "llm.input_messages.1.message.content": "Hi",
      "llm.input_messages.0.message.role": "system",
      "llm.input_messages.0.message.content": "You help.",
      "llm.input_messages.2.message.role": "user",
      "llm.input_messages.2.message.contents.0.message_content.type": "text",
      "llm.input_messages.2.message.contents.0.message_content.text": "Look:",
      "llm.output_messages.0.message.role": "assistant",
      "llm.output_messages.0.message.tool_calls.0.tool_call.id": "t9",
      "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "search",
      "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q":"x"}',
    });
    expect(conv?.input.map((m) => [m.role, m.parts[0]])).toEqual([
      ["system", { type: "text", text: "You help." }],
      ["user", { type: "text", text: "Hi" }],
      ["user", { type: "text", text: "Look:" }],
    ]);
    expect(conv?.output[0]!.parts[0]).toEqual({ type: "tool_call", id: "t9", name: "search", arguments: '{\n  "q": "x"\n}' });
  });

  it("reads indexed gen_ai.prompt.N / gen_ai.completion.N keys", () => {
    const conv = extractConversation({
      "gen_ai.prompt.0.role": "user",
      "gen_ai.prompt.0.content": "2+2?",
      "gen_ai.prompt.1.role": "tool",
      "gen_ai.prompt.1.tool_call_id": "a",
      "gen_ai.prompt.1.content": "4",
      "gen_ai.completion.0.role": "assistant",
      "gen_ai.completion.0.content": "4",
      "gen_ai.completion.0.tool_calls.0.name": "calc",
      "gen_ai.completion.0.tool_calls.0.arguments": "2+2",
    });
    expect(conv?.inputSource).toBe("gen_ai.prompt.N");
    expect(conv?.input[1]!.parts).toEqual([{ type: "tool_result", id: "a", content: "4" }]);
    expect(conv?.output[0]!.parts).toEqual([
      { type: "text", text: "4" },
      { type: "tool_call", id: undefined, name: "calc", arguments: "2+2" },
    ]);
  });

  it("reads gen_ai.prompt / gen_ai.completion as JSON messages or plain text", () => {
    const conv = extractConversation({
      "gen_ai.prompt": JSON.stringify([{ role: "user", content: [{ type: "text", text: "Describe" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }]),
      "gen_ai.completion": "A cat.",
    });
    expect(conv?.input[0]!.parts).toEqual([
      { type: "text", text: "Describe" },
      { type: "data", label: "image", value: "data:image/png;base64,AAAA" },
    ]);
    expect(conv?.output).toEqual([{ role: "assistant", parts: [{ type: "text", text: "A cat." }] }]);
  });

  it("reads OpenAI-style tool_calls and tool role messages", () => {
    const msgs = toMessages(
      [
        { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "x", content: "done" },
      ],
      "user",
    );
    expect(msgs[0]!.parts).toEqual([{ type: "tool_call", id: "x", name: "f", arguments: "{}" }]);
    expect(msgs[1]!.parts).toEqual([{ type: "tool_result", id: "x", content: "done" }]);
  });

  it("falls back to msgflux inputs/outputs", () => {
    const conv = extractConversation({ inputs: '{"text": "I love it"}', outputs: "positive" });
    expect(conv?.inputSource).toBe("inputs");
    expect(conv?.input[0]!.role).toBe("input");
    expect(conv?.input[0]!.parts[0]).toEqual({ type: "text", text: '{\n  "text": "I love it"\n}' });
    expect(conv?.output[0]).toEqual({ role: "output", parts: [{ type: "text", text: "positive" }] });
  });

  it("reads gen_ai message events", () => {
    const conv = extractConversation({}, [
      { name: "gen_ai.user.message", attributes: { content: "hello" } },
      { name: "gen_ai.choice", attributes: { message: '{"role":"assistant","content":"hi"}' } },
    ]);
    expect(conv?.input).toEqual([{ role: "user", parts: [{ type: "text", text: "hello" }] }]);
    expect(conv?.output).toEqual([{ role: "assistant", parts: [{ type: "text", text: "hi" }] }]);
  });

  it("returns null without messages and survives malformed JSON", () => {
    expect(extractConversation({ "http.method": "GET" })).toBeNull();
    const conv = extractConversation({ "gen_ai.input.messages": "[{broken" });
    expect(conv?.input).toEqual([{ role: "user", parts: [{ type: "text", text: "[{broken" }] }]);
  });
});
