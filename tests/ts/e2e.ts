// The frontend trial's client flow, run by Node against a live service
// (tests/contract/test_typescript_e2e.py compiles it with the generated
// types under `tsc --strict`, then runs it): a REST client on openapi-fetch
// and WebSocket tabs on Node's own WebSocket, typed by generated/ts/.
import createClient from "openapi-fetch";
import type { components, paths } from "../../generated/ts/api";
import type { FrameOf, PageClientFrame, PageServerFrame } from "../../generated/ts/collab";

type ProblemCode = components["schemas"]["ProblemCode"];
// Node's globals, without @types/node (fetch and WebSocket are in the DOM lib).
declare const process: { argv: string[]; exit(code: number): never };

const base = process.argv[2] ?? "http://127.0.0.1:8080";
const api = createClient<paths>({ baseUrl: base });
const seen: Record<string, unknown> = {};

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`failed: ${what}`);
}

class Tab {
  private readonly queue: PageServerFrame[] = [];
  private waiting: ((f: PageServerFrame) => void) | null = null;
  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (e: MessageEvent) => {
      const frame = JSON.parse(String(e.data)) as PageServerFrame;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(frame);
      } else this.queue.push(frame);
    };
  }
  static async open(pageId: string, token: string): Promise<Tab> {
    const url = `${base.replace("http", "ws")}/ws/pages/${pageId}`;
    const socket = new WebSocket(url, ["lowcode.v1", `bearer.${token}`]);
    await new Promise<void>((ok, fail) => {
      socket.onopen = () => ok();
      socket.onerror = () => fail(new Error("socket failed"));
    });
    return new Tab(socket);
  }
  private nextAny(): Promise<PageServerFrame> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((ok) => (this.waiting = ok));
  }
  async next<T extends PageServerFrame["type"]>(type: T): Promise<FrameOf<PageServerFrame, T>> {
    for (;;) {
      const frame = await this.nextAny();
      if (frame.type === type) return frame as FrameOf<PageServerFrame, T>;
    }
  }
  send(frame: PageClientFrame): void {
    this.socket.send(JSON.stringify(frame));
  }
}

async function main(): Promise<void> {
  const email = `fe-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
  const password = "frontend-trial-1";
  const reg = await api.POST("/api/v1/auth/register", {
    body: { email, password, display_name: "Frontend" },
  });
  check(reg.response.status === 201, "register 201");
  seen["registerLocation"] = reg.response.headers.get("location");
  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (!login.data) throw new Error(login.error.code);
  let access = login.data.access_token;
  const headers = () => ({ Authorization: `Bearer ${access}` });

  // F2: the minimal `{name}` workspace is a valid request, in types and at run time.
  const ws = await api.POST("/api/v1/workspaces", { body: { name: "Trial" }, headers: headers() });
  if (!ws.data) throw new Error(ws.error.code);
  seen["workspaceLocation"] = ws.response.headers.get("location");
  check(seen["workspaceLocation"] === `/api/v1/workspaces/${ws.data.id}`, "Location on 201");

  const page = await api.POST("/api/v1/workspaces/{workspace_id}/pages", {
    params: { path: { workspace_id: ws.data.id } },
    body: { title: "Dashboard" },
    headers: headers(),
  });
  if (!page.data) throw new Error(page.error.code);
  const pageId = page.data.id;
  const root = page.data.schema.rootId;
  const title = (value: string) => [
    { op: "add" as const, path: `/components/${root}/props/title`, value },
  ];

  const first = await api.POST("/api/v1/pages/{page_id}/patch", {
    params: { path: { page_id: pageId } },
    body: { baseVersion: 1, opId: "rest-1", patches: title("one") },
    headers: headers(),
  });
  check(first.data?.version === 2, "patch to v2");
  // F4: a stale patch is a typed VERSION_CONFLICT; retry at currentVersion (a number).
  const stale = await api.POST("/api/v1/pages/{page_id}/patch", {
    params: { path: { page_id: pageId } },
    body: { baseVersion: 1, opId: "rest-2", patches: title("two") },
    headers: headers(),
  });
  const code: ProblemCode | undefined = stale.error?.code;
  check(code === "VERSION_CONFLICT", "stale patch is VERSION_CONFLICT");
  const current: number | undefined = stale.error?.currentVersion;
  check(current === 2, "currentVersion is 2");
  const retried = await api.POST("/api/v1/pages/{page_id}/patch", {
    params: { path: { page_id: pageId } },
    body: { baseVersion: current ?? 0, opId: "rest-2", patches: title("two") },
    headers: headers(),
  });
  check(retried.data?.version === 3 && retried.data.duplicate === false, "retry to v3");

  // F5: restore with no body.
  const restored = await api.POST("/api/v1/pages/{page_id}/revisions/{revision}/restore", {
    params: { path: { page_id: pageId, revision: 1 } },
    headers: headers(),
  });
  check(restored.data?.version === 4, "restore without a body");

  // Two tabs refreshing at the same moment: both succeed, one family.
  const [a, b] = await Promise.all([
    api.POST("/api/v1/auth/refresh", { body: { refresh_token: login.data.refresh_token } }),
    api.POST("/api/v1/auth/refresh", { body: { refresh_token: login.data.refresh_token } }),
  ]);
  check(!!a.data && !!b.data && a.data.refresh_token === b.data.refresh_token, "multi-tab refresh");
  access = a.data?.access_token ?? access;

  // F6, F9: WebSocket tabs, presence per connection, idempotent resend.
  const tab1 = await Tab.open(pageId, access);
  const sync1 = await tab1.next("sync");
  check(sync1.payload.version === 4, "sync at v4");
  const tab2 = await Tab.open(pageId, access);
  const sync2 = await tab2.next("sync");
  const joined = await tab1.next("user-join");
  check(joined.payload.user.connectionId === sync2.payload.connectionId, "second tab joins");
  check(sync2.payload.members.length === 2, "two connections in the room");

  const op: PageClientFrame = {
    type: "op-patch",
    payload: { baseVersion: 4, opId: "ws-1", patches: title("live") },
  };
  tab1.send(op);
  tab1.socket.close(); // dropped before the ack is read
  const applied = await tab2.next("op-patch");
  check(applied.payload.opId === "ws-1" && applied.payload.version === 5, "applied once");
  const tab1again = await Tab.open(pageId, access);
  await tab1again.next("sync");
  tab1again.send(op); // the resend rule: unchanged
  const ack = await tab1again.next("ack");
  check(ack.payload.duplicate && ack.payload.version === 5, "resend acked as duplicate");
  tab1again.send({ ...op, payload: { ...op.payload, patches: title("other") } });
  const reused = await tab1again.next("error");
  check(reused.payload.code === "OP_ID_REUSED", "opId reuse refused");
  const head = await api.GET("/api/v1/pages/{page_id}", {
    params: { path: { page_id: pageId } },
    headers: headers(),
  });
  check(head.data?.version === 5, "applied once: v5");
  tab2.socket.close();
  tab1again.socket.close();
  seen["ok"] = true;
  console.log(JSON.stringify(seen));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
