// Mocha adds the files named on the command line to a configured `spec`, so the
// whole suite is the spec only when none are named: `npx mocha test/x.test.ts`
// runs that file alone, `npm test` runs everything.
const named = process.argv.slice(2).some((arg) => /\.test\.ts$/.test(arg));

module.exports = {
  "node-option": ["import=tsx"],
  spec: named ? [] : ["test/**/*.test.ts"],
  timeout: 20000,
  exit: true,
};
