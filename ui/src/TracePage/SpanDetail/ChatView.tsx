/** Renders extracted prompt/completion messages as a chat: role, text, tool calls, tool results. */
import { LargeValue } from "@/components/LargeValue";
import type { ChatMessage, Conversation, Part } from "./messages";

function PartView({ part }: { part: Part }) {
  switch (part.type) {
    case "text":
      return <LargeValue value={part.text} limit={1500} pre />;
    case "tool_call":
      return (
        <div className="chat-tool chat-tool-call">
          <div className="chat-tool-head">
            <span className="badge">tool call</span> <strong className="mono">{part.name}</strong>
            {part.id && <span className="muted mono"> · {part.id}</span>}
          </div>
          <LargeValue value={part.arguments} limit={800} pre />
        </div>
      );
    case "tool_result":
      return (
        <div className="chat-tool chat-tool-result">
          <div className="chat-tool-head">
            <span className="badge">tool result</span>
            {part.id && <span className="muted mono"> {part.id}</span>}
          </div>
          <LargeValue value={part.content} limit={800} pre />
        </div>
      );
    case "data":
      return (
        <div className="chat-data">
          <span className="badge">{part.label}</span> <LargeValue value={part.value} limit={300} />
        </div>
      );
  }
}

function MessageView({ message }: { message: ChatMessage }) {
  return (
    <div className={`chat-msg chat-role-${message.role.replace(/[^a-z]/gi, "")}`} data-testid="chat-message">
      <div className="chat-role">
        {message.role}
        {message.name && <span className="muted"> · {message.name}</span>}
      </div>
      <div className="chat-parts">
        {message.parts.length === 0 ? <span className="muted">(empty)</span> : message.parts.map((p, i) => <PartView key={i} part={p} />)}
      </div>
    </div>
  );
}

export function ChatView({ conversation }: { conversation: Conversation }) {
  return (
    <div className="chat" data-testid="chat">
      {conversation.input.length > 0 && (
        <>
          <h3>
            Prompt <span className="muted source">{conversation.inputSource}</span>
          </h3>
          {conversation.input.map((m, i) => (
            <MessageView key={`in-${i}`} message={m} />
          ))}
        </>
      )}
      {conversation.output.length > 0 && (
        <>
          <h3>
            Completion <span className="muted source">{conversation.outputSource}</span>
          </h3>
          {conversation.output.map((m, i) => (
            <MessageView key={`out-${i}`} message={m} />
          ))}
        </>
      )}
    </div>
  );
}
