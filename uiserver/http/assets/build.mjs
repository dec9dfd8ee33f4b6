// Bundle the console's front-end libraries into ../static/vendor/ with esbuild, and copy the
// license of every package that ends up in each bundle next to it. The output is committed: the
// server ships it as package data and never needs npm (`npm ci && npm run build` to refresh).
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../static/vendor");
mkdirSync(out, { recursive: true });

const BUNDLES = [
  { entry: "src/sortable.js", file: "sortable.min.js", format: "iife" },
  { entry: "src/editor.js", file: "codemirror.bundle.js", format: "iife", globalName: "UIEditor" },
];

function packageOf(input) {
  // node_modules/@scope/name/... or node_modules/name/...
  const parts = input.split("/");
  const i = parts.lastIndexOf("node_modules");
  if (i < 0) return null;
  const name = parts[i + 1].startsWith("@") ? `${parts[i + 1]}/${parts[i + 2]}` : parts[i + 1];
  return { name, dir: join(here, ...parts.slice(0, i + 1), ...name.split("/")) };
}

function licenseText(dir) {
  const file = readdirSync(dir).find((f) => /^(LICEN[CS]E|COPYING)(\.|$)/i.test(f));
  if (!file) throw new Error(`no license file in ${dir}`);
  return readFileSync(join(dir, file), "utf8").trim();
}

const manifest = {};
for (const bundle of BUNDLES) {
  const result = await build({
    entryPoints: [join(here, bundle.entry)],
    outfile: join(out, bundle.file),
    bundle: true,
    minify: true,
    format: bundle.format,
    globalName: bundle.globalName,
    target: ["es2020"],
    legalComments: "none", // the licenses are written out in full beside the bundle
    metafile: true,
    logLevel: "warning",
  });
  const packages = new Map();
  for (const input of Object.keys(result.metafile.inputs)) {
    const pkg = packageOf(input);
    if (pkg && !packages.has(pkg.name)) packages.set(pkg.name, pkg.dir);
  }
  const names = [...packages.keys()].sort();
  const sections = names.map((name) => {
    const dir = packages.get(name);
    const { version, license } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    manifest[name] = { version, license };
    return `${name}@${version} (${license})\n${"=".repeat(60)}\n${licenseText(dir)}\n`;
  });
  const licenseFile = bundle.file.replace(/\.(min\.|bundle\.)?js$/, ".LICENSE.txt");
  writeFileSync(
    join(out, licenseFile),
    `Licenses of the packages bundled into ${bundle.file}\n\n${sections.join("\n")}`,
  );
  console.log(`${bundle.file}: ${names.length} packages -> ${licenseFile}`);
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
if (!existsSync(join(out, "codemirror.bundle.js"))) process.exit(1);
