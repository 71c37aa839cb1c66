import { budgetClassOf, budgetsFor, overBudgetMessage, requestCost, type UserBudgets } from "./budgets";
import type { Config } from "../config";
import { inFlight } from "./connectionGuard";
import type { ErrorCode } from "../errors";

type AdmissionConfig = Parameters<typeof budgetsFor>[0]
  & Pick<Config, "maxInFlightRequests" | "historyPageDefault" | "historyPageMax">;

/**
 * Whether a request may run at all, decided before any work: the connection's
 * in-flight cap, then the user's budget for the request's class (which it charges).
 * A refusal is a plain reason, not a RequestError: under a flood an Error's stack
 * trace was half the cost of refusing.
 */
export function refusalOf(
  connection: object, userId: string, type: string, raw: unknown, config: AdmissionConfig, budgets: UserBudgets = budgetsFor(config),
): { code: ErrorCode; message: string } | null {
  if (inFlight(connection) >= config.maxInFlightRequests) {
    return { code: "too_many_requests", message: `more than ${config.maxInFlightRequests} requests waiting for an answer on this connection` };
  }
  const budget = budgetClassOf(type);
  if (!budgets.take(userId, budget, requestCost(type, raw, config.historyPageDefault, config.historyPageMax))) {
    return { code: "rate_limited", message: `${type}: ${overBudgetMessage(budget, budgets.rates)}` };
  }
  return null;
}
