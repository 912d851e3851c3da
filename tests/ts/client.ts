// A strict REST client against the checked-in types, the way a frontend
// developer writes one (openapi-fetch). It is a type test: `tsc --strict`
// must accept it (tests/contract/test_typescript.py). It is never run.
import createClient from "openapi-fetch";
import type { components, operations, paths } from "../../generated/ts/api";

type Schemas = components["schemas"];
type Problem = Schemas["Problem"];
type ProblemCode = Schemas["ProblemCode"];

const api = createClient<paths>({ baseUrl: "http://localhost:8080" });

// The minimal valid request of an operation is a valid TypeScript value.
type JsonBody<K extends keyof operations> = NonNullable<
  operations[K]["requestBody"]
> extends { content: { "application/json": infer B } }
  ? B
  : never;

// `description` has a server-side default: `{name}` alone is a whole request.
const minimalWorkspace: JsonBody<"createWorkspace"> = { name: "Sales" };
const minimalPage: Schemas["PageCreate"] = { title: "Dashboard" };

/** What a UI does with each problem code. Misspell a code and this stops compiling. */
export function describe(code: ProblemCode): string {
  switch (code) {
    case "VERSION_CONFLICT":
      return "someone else changed the page: rebase and retry";
    case "OP_ID_REUSED":
      return "this opId was used for a different edit";
    case "PATCH_FAILED":
    case "INVALID_DOCUMENT":
      return "the edit does not apply";
    case "TOKEN_EXPIRED":
    case "SESSION_REVOKED":
    case "UNAUTHORIZED":
      return "log in again";
    case "RATE_LIMITED":
      return "slow down";
    case "EMAIL_TAKEN":
      return "that email is registered";
    default:
      return "something went wrong";
  }
}

/** Narrowing on `code` gives the typed extension members. */
export function retryBase(problem: Problem): number | undefined {
  if (problem.code === "VERSION_CONFLICT") {
    const current: number | undefined = problem.currentVersion;
    return current;
  }
  if (problem.code === "PATCH_FAILED") {
    const index: number | undefined = problem.opIndex;
    return index === undefined ? undefined : -index;
  }
  return undefined;
}

export async function trialFlow(email: string, password: string): Promise<number> {
  await api.POST("/api/v1/auth/register", {
    body: { email, password, display_name: "Trial" },
  });
  const login = await api.POST("/api/v1/auth/login", { body: { email, password } });
  if (!login.data) throw new Error(describe(login.error.code));
  const headers = { Authorization: `Bearer ${login.data.access_token}` };

  const ws = await api.POST("/api/v1/workspaces", { body: minimalWorkspace, headers });
  if (!ws.data) throw new Error(ws.error.detail);
  const page = await api.POST("/api/v1/workspaces/{workspace_id}/pages", {
    params: { path: { workspace_id: ws.data.id } },
    body: minimalPage,
    headers,
  });
  if (!page.data) throw new Error(page.error.detail);
  const pageId: string = page.data.id;

  const patchAt = (baseVersion: number) =>
    api.POST("/api/v1/pages/{page_id}/patch", {
      params: { path: { page_id: pageId } },
      body: {
        baseVersion,
        opId: "tab1-1",
        patches: [{ op: "replace", path: "/components/root/props/title", value: "Hi" }],
      },
      headers,
    });
  let result = await patchAt(1);
  if (result.error?.code === "VERSION_CONFLICT" && result.error.currentVersion !== undefined) {
    result = await patchAt(result.error.currentVersion);
  }
  if (!result.data) throw new Error(describe(result.error.code));
  const duplicate: boolean = result.data.duplicate;

  // The restore body is optional (requestBody.required: false).
  const restored = await api.POST("/api/v1/pages/{page_id}/revisions/{revision}/restore", {
    params: { path: { page_id: pageId, revision: 1 } },
    headers,
  });
  if (!restored.data) throw new Error(restored.error.code);
  return duplicate ? restored.data.version : restored.data.version + 0;
}
