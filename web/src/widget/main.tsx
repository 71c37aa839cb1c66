import { render } from "preact";
import "../style.css";
import { applyTheme } from "../lib/theme";
import { Widget } from "./Widget";

applyTheme();
render(<Widget />, document.getElementById("app")!);
