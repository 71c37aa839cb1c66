import { render } from "preact";
import "../style.css";
import { applyTheme } from "../lib/theme";
import { Console } from "./Console";

applyTheme();
render(<Console />, document.getElementById("app")!);
