// A collaboration client typed by the generated WebSocket frames
// (generated/ts/collab.d.ts, from api/asyncapi/collab.yaml). A type test:
// `tsc --strict` must accept it; it is never run.
import type {
  FrameOf,
  PageClientFrame,
  PageServerFrame,
  Schemas,
} from "../../generated/ts/collab";

type Collaborator = Schemas["Collaborator"];

export class PageSession {
  private readonly unacked = new Map<string, FrameOf<PageClientFrame, "op-patch">>();
  private readonly others = new Map<string, Collaborator>(); // by connectionId
  private connectionId = "";
  version = 0;

  constructor(private socket: WebSocket) {}

  /** After a reconnect: resend every op not acked yet, unchanged (same opId). */
  reconnected(socket: WebSocket): void {
    this.socket = socket;
    for (const frame of this.unacked.values()) this.send(frame);
  }

  edit(opId: string, patches: Schemas["JsonPatchOperation"][]): void {
    const frame: PageClientFrame = {
      type: "op-patch",
      payload: { opId, baseVersion: this.version, patches },
    };
    this.unacked.set(opId, frame);
    this.send(frame);
  }

  moveCursor(x: number, y: number): void {
    this.send({ type: "cursor-move", payload: { x, y } });
  }

  private send(frame: PageClientFrame): void {
    this.socket.send(JSON.stringify(frame));
  }

  receive(raw: string): string {
    const frame = JSON.parse(raw) as PageServerFrame;
    switch (frame.type) {
      case "sync":
        this.version = frame.payload.version;
        this.connectionId = frame.payload.connectionId;
        for (const m of frame.payload.members) {
          if (m.connectionId !== this.connectionId) this.others.set(m.connectionId, m);
        }
        return "sync";
      case "ack": {
        this.unacked.delete(frame.payload.opId);
        const duplicate: boolean = frame.payload.duplicate;
        return duplicate ? "already applied" : "applied";
      }
      case "op-patch":
        this.version = frame.payload.version;
        return "remote op";
      case "user-join":
        this.others.set(frame.payload.user.connectionId, frame.payload.user);
        return "join";
      case "user-leave":
        this.others.delete(frame.payload.user.connectionId);
        return "leave";
      case "cursor-move":
        return `cursor of ${frame.payload.user.name} (${frame.payload.user.connectionId})`;
      case "pong":
        return "pong";
      case "error":
        switch (frame.payload.code) {
          case "VERSION_CONFLICT":
            return `rebase onto ${frame.payload.currentVersion ?? "?"}`;
          case "OP_ID_REUSED":
            return "pick a new opId";
          default:
            return frame.payload.message;
        }
      default: {
        const unknownFrame: never = frame;
        return String(unknownFrame);
      }
    }
  }
}
