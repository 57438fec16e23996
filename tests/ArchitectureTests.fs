/// The layering the code keeps (README, "Layout and architecture"): each namespace mirrors its folder and belongs to one
/// assembly, and a folder uses only the layers beneath it —
///   shapes ← functions ← layers ← models ← (Functional: applications)
///   native ← formats ← torch layers ← building ← data, saving ← training ← plotting ← F# DSL.
/// The compiler sees `using` lines and qualified names; these tests read both, so an upward dependency fails here, naming
/// the file and the line, instead of quietly tying two layers together.
module Functional.Tests.ArchitectureTests

open System
open System.IO
open System.Reflection
open System.Text.RegularExpressions
open Expecto
open Functional.Tests.ExampleScriptTests

/// The namespaces each namespace may use, besides its own and its parents'. Lower layers first.
let private allowed : (string * string list) list =
    let core = [ "Functional.Shapes"; "Functional.Functions"; "Functional.Layers"; "Functional.Models" ]
    [ "Functional.Shapes", []
      "Functional.Functions", [ "Functional.Shapes" ]
      "Functional.Layers", [ "Functional.Shapes"; "Functional.Functions" ]
      "Functional.Models", [ "Functional.Shapes"; "Functional.Functions"; "Functional.Layers" ]
      "Functional.Data", []
      "Functional.Training", [ "Functional.Shapes"; "Functional.Functions" ]
      "Functional", core
      "Functional.Torch.Native", core
      "Functional.Torch", [ "Functional.Torch.Native" ]
      "Functional.Torch.Formats", []
      "Functional.Torch.Layers", core @ [ "Functional.Torch.Native" ]
      "Functional.Torch.Building", core @ [ "Functional.Torch.Native"; "Functional.Torch.Formats"; "Functional.Torch.Layers" ]
      "Functional.Torch.Data", core @ [ "Functional.Data"; "Functional.Torch.Native"; "Functional.Torch.Layers"; "Functional.Torch.Building" ]
      "Functional.Torch.Saving", core @ [ "Functional.Torch.Native"; "Functional.Torch.Formats"; "Functional.Torch.Layers"; "Functional.Torch.Building" ]
      "Functional.Torch.Training",
          core @ [ "Functional.Data"; "Functional.Training"; "Functional.Torch.Native"; "Functional.Torch.Formats"; "Functional.Torch.Layers"
                   "Functional.Torch.Building"; "Functional.Torch.Data"; "Functional.Torch.Saving" ]
      "Functional.Plotting", core @ [ "Functional.Training"; "Functional.Torch.Training" ] ]

/// The namespace a source file must declare: its project's root namespace plus its folder.
let private expectedNamespace (relative: string) =
    let parts = relative.Split('/')
    match parts with
    | [| "src"; project; _ |] -> project
    | _ -> parts[1] + "." + String.Join(".", parts[2 .. parts.Length - 2])

let private sourceFiles () =
    let root = repoRoot ()
    Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories)
    |> Seq.map (fun f -> Path.GetRelativePath(root, f).Replace('\\', '/'))
    |> Seq.filter (fun f -> not (f.Contains "/obj/" || f.Contains "/bin/"))
    |> Seq.sort
    |> List.ofSeq

let private namespaceOf (text: string) =
    let m = Regex.Match(text, @"^namespace ([\w.]+);", RegexOptions.Multiline)
    if m.Success then Some m.Groups[1].Value else None

/// Every namespace of the library, and the last segment by which code inside `Functional…` can name it without a using.
let private layerNames = allowed |> List.map fst

[<Tests>]
let tests =
    testList "Architecture" [
        test "each source file's namespace is its project plus its folder" {
            let wrong =
                [ for f in sourceFiles () do
                    let text = File.ReadAllText(Path.Combine(repoRoot (), f))
                    match namespaceOf text with
                    | Some ns when ns = expectedNamespace f -> ()
                    | found -> yield sprintf "%s declares %A, expected %s" f found (expectedNamespace f) ]
            if not wrong.IsEmpty then failtestf "namespaces mirror folders:\n%s" (String.Join("\n", wrong))
            Expect.isGreaterThan (sourceFiles ()).Length 50 "the source files were found"
        }

        test "each namespace belongs to one assembly, named after it" {
            let assemblies =
                [ typeof<Functional.Layers.Layer>.Assembly
                  typeof<Functional.Torch.Building.BuiltNetwork>.Assembly
                  typeof<Functional.Plotting.TrainingCurves>.Assembly
                  Assembly.Load "Functional.FSharp" ]
            let owners =
                [ for a in assemblies do
                    for t in a.GetTypes() do
                        if not (isNull t.Namespace) && t.Namespace.StartsWith "Functional" then
                            yield t.Namespace, a.GetName().Name ]
                |> List.distinct
            let shared = owners |> List.groupBy fst |> List.filter (fun (_, xs) -> xs.Length > 1)
            if not shared.IsEmpty then failtestf "no namespace spans two assemblies: %A" shared
            let misnamed =
                owners |> List.filter (fun (ns, asm) ->
                    // Functional.Data and Functional.Training in Functional.dll are the pure halves (IDX files, schedules).
                    not (ns = asm || ns.StartsWith(asm + ".")) )
            if not misnamed.IsEmpty then failtestf "a namespace starts with its assembly's name: %A" misnamed
        }

        test "each folder uses only the layers beneath it" {
            let table = dict allowed
            let violations =
                [ for f in sourceFiles () do
                    let lines = File.ReadAllLines(Path.Combine(repoRoot (), f))
                    let ns = expectedNamespace f
                    let mayUse = Set.ofList (ns :: table[ns])
                    let isParent (other: string) = ns = other || ns.StartsWith(other + ".")
                    let forbidden = layerNames |> List.filter (fun other -> not (mayUse.Contains other) && not (isParent other))
                    for i, line in Seq.indexed lines do
                        let code = let c = line.IndexOf("//") in if c >= 0 then line[.. c - 1] else line
                        let m = Regex.Match(code, @"^\s*using (Functional[\w.]*);")
                        if m.Success && not (mayUse.Contains m.Groups[1].Value) then
                            yield sprintf "%s:%d uses %s" f (i + 1) m.Groups[1].Value
                        elif not m.Success then
                            for other in forbidden do
                                // A qualified name reaches a namespace without a using: Functional.Torch.Saving.X, or from
                                // inside Functional.Torch just Saving.X.
                                let tail = other.Split('.') |> Array.last
                                let shortForm = if other.StartsWith "Functional.Torch." && ns.StartsWith "Functional.Torch" then tail
                                                elif other.StartsWith "Functional." && other.Split('.').Length = 2 then tail
                                                else other
                                let pattern = sprintf @"(?<![\w.])(%s|%s)\.[A-Z]" (Regex.Escape other) (Regex.Escape shortForm)
                                if Regex.IsMatch(code, pattern) then
                                    yield sprintf "%s:%d names %s: %s" f (i + 1) other (code.Trim())
                            // The root namespace Functional (applications) is every core namespace's parent, so no
                            // using is needed to reach it: look for its one type instead.
                            if ns.StartsWith "Functional." && not (ns.StartsWith "Functional.Torch") && ns <> "Functional.Plotting"
                               && Regex.IsMatch(code, @"(?<![\w.])Applications\.[A-Z]") then
                                yield sprintf "%s:%d names the applications: %s" f (i + 1) (code.Trim()) ]
            if not violations.IsEmpty then failtestf "dependencies point downward only:\n%s" (String.Join("\n", violations))
        }
    ]
