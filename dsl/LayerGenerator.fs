/// Writes dsl/Layers.fs from the built layer records, so the DSL never restates a constructor by hand.
/// Shared by `dsl/generate-layers.fsx` (which writes or checks the file) and the test suite (which checks that the file
/// is what this code writes now). It reflects over Functional.dll and reads its XML documentation; it takes no clock,
/// no environment and no ordering from reflection, so the same assembly always gives the same text.
module Functional.FSharp.LayerGenerator

open System
open System.IO
open System.Reflection
open System.Text
open System.Text.RegularExpressions
open System.Xml.Linq

/// Where a rule cannot derive today's DSL name from the record's class name.
let nameOverrides = dict [ ("PReLU", "prelu") ]

/// Keras's argument order where a record's constructor keeps another one (Conv2DTranspose and Conv3DTranspose take
/// `outputPadding` last in C#; Keras, Conv1DTranspose and the DSL take it after `padding`): (record, argument, after).
let orderOverrides = [ ("Conv2DTranspose", "outputPadding", "padding"); ("Conv3DTranspose", "outputPadding", "padding") ]

/// Records the DSL does not generate: `Input` has hand-written members (`input`, `inputOf`) that take shapes the F# way.
let handWritten = set [ "Input" ]

/// The DSL name of a Keras class name: `Conv2D` → `conv2d`, `MaxPooling2D` → `maxPooling2d`, `LeakyReLU` → `leakyRelu`,
/// `ELU` → `elu`, `Conv1DTranspose` → `conv1dTranspose` (a digit then `D` is one word; `ReLU` is one word).
let dslName (className: string) =
    match nameOverrides.TryGetValue className with
    | true, n -> n
    | _ ->
        let s = Regex.Replace(className.Replace("ReLU", "Relu"), "([0-9])D", "$1d")
        let lead = s |> Seq.takeWhile Char.IsUpper |> Seq.length
        if lead = s.Length then s.ToLowerInvariant()
        elif lead <= 1 then string (Char.ToLowerInvariant s[0]) + s.Substring 1
        else s.Substring(0, lead - 1).ToLowerInvariant() + s.Substring(lead - 1)

let private camel (s: string) = string (Char.ToLowerInvariant s[0]) + s.Substring 1

/// Short type names that more than one exported type of an assembly has (`Identity` is an initializer, and would be a
/// layer): those are written with their namespace, since the file opens several.
let private ambiguousNames =
    let cache = Collections.Concurrent.ConcurrentDictionary<Assembly, Set<string>>()
    fun (asm: Assembly) ->
        cache.GetOrAdd(asm, fun a ->
            a.GetExportedTypes() |> Array.countBy (fun t -> t.Name) |> Array.filter (fun (_, n) -> n > 1) |> Array.map fst |> Set.ofArray)

/// The name to write for a type: its short name, or its full name where the short one is ambiguous.
let typeName (t: Type) = if (ambiguousNames t.Assembly).Contains t.Name then t.FullName else t.Name

/// The F# spelling of a parameter type (its namespace is opened at the top of the file).
let rec fsType (t: Type) =
    if t = typeof<int> then "int" elif t = typeof<double> then "float" elif t = typeof<bool> then "bool"
    elif t = typeof<string> then "string" elif t = typeof<float32> then "float32" elif t = typeof<int64> then "int64"
    elif t.IsArray then fsType (t.GetElementType()) + "[]"
    elif t.IsGenericType then
        let name = t.Name.Substring(0, t.Name.IndexOf '`')
        name + "<" + (t.GetGenericArguments() |> Array.map fsType |> String.concat ", ") + ">"
    else typeName t

let rec private namespaces (t: Type) =
    seq {
        if t.IsArray then yield! namespaces (t.GetElementType())
        else
            if not (isNull t.Namespace) && not t.IsPrimitive && t <> typeof<string> then yield t.Namespace
            if t.IsGenericType then for a in t.GetGenericArguments() do yield! namespaces a
    }

/// One argument of a DSL member: how it is declared and how it is passed on.
type private Arg = { Declared: string; Passed: string; Type: Type }

let private nullableOf (t: Type) = Nullable.GetUnderlyingType t |> Option.ofObj

/// Keras's constructor: the public constructor with the most parameters.
let kerasConstructor (t: Type) =
    t.GetConstructors(BindingFlags.Public ||| BindingFlags.Instance)
    |> Array.filter (fun c -> not (c.GetParameters() |> Array.exists (fun p -> p.ParameterType = t))) // not the copy constructor
    |> Array.sortByDescending (fun c -> c.GetParameters().Length)
    |> Array.tryHead

let private argName (a: Arg) = a.Declared.TrimStart('?').Split(':').[0]

let private constructorArgsInOrder (c: ConstructorInfo) =
    [ for p in c.GetParameters() ->
        let name = p.Name
        match nullableOf p.ParameterType with
        | Some inner when p.IsOptional ->
            { Declared = $"?{name}: {fsType inner}"; Passed = $"{name} = Option.toNullable {name}"; Type = inner }
        | _ when p.IsOptional ->
            { Declared = $"?{name}: {fsType p.ParameterType}"; Passed = $"?{name} = {name}"; Type = p.ParameterType }
        | _ -> { Declared = $"{name}: {fsType p.ParameterType}"; Passed = name; Type = p.ParameterType } ]

let private constructorArgs (c: ConstructorInfo) =
    let args = constructorArgsInOrder c
    orderOverrides
    |> List.filter (fun (record, _, _) -> record = c.DeclaringType.Name)
    |> List.fold (fun args (_, moved, after) ->
        match List.tryFind (fun a -> argName a = moved) args with
        | Some m when List.exists (fun a -> argName a = after) args ->
            let rest = args |> List.filter (fun a -> argName a <> moved)
            let i = rest |> List.findIndex (fun a -> argName a = after)
            List.take (i + 1) rest @ [ m ] @ List.skip (i + 1) rest
        | _ -> failwithf "LayerGenerator: orderOverrides names %s.%s or %s, which the constructor no longer has." c.DeclaringType.Name moved after) args

/// The base `Layer`'s public init-only properties that every layer takes (today `Name`, `Trainable`), in declaration
/// order. Virtual ones are left to the records' constructors: a record may own or override them (ActivityRegularization
/// sets its own activity penalty and refuses another), so they are offered exactly where a constructor takes them.
let baseProperties (layer: Type) =
    layer.GetProperties(BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.DeclaredOnly)
    |> Array.filter (fun p ->
        p.CanWrite && p.SetMethod.IsPublic && not p.SetMethod.IsVirtual
        && p.SetMethod.ReturnParameter.GetRequiredCustomModifiers()
           |> Array.exists (fun m -> m.FullName = "System.Runtime.CompilerServices.IsExternalInit"))
    |> Array.sortBy (fun p -> p.MetadataToken)
    |> List.ofArray

/// The F# literal for a base property's default value (read from a layer made with defaults only), when it has one.
let private literal (v: obj) =
    match v with
    | :? bool as b -> Some(if b then "true" else "false")
    | :? int as i -> Some(string i)
    | :? double as d ->
        let s = d.ToString("R", Globalization.CultureInfo.InvariantCulture)
        Some(if s.Contains '.' || s.Contains 'E' then s else s + ".0")
    | :? string as s -> Some("\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"")
    | :? Enum as e when Enum.IsDefined(e.GetType(), e) -> Some(typeName (e.GetType()) + "." + e.ToString())
    | _ -> None

/// Where no literal spells a default, the generated file reads it from `LayerDefaults.Layer`, a layer made with defaults.
let private defaultsModule = "LayerDefaults"

let private baseArgs (layer: Type) (defaults: obj) (ctorNames: Set<string>) =
    [ for p in baseProperties layer do
        let name = camel p.Name
        if not (ctorNames.Contains(name.ToLowerInvariant())) then
            let value = p.GetValue defaults
            let passed =
                match nullableOf p.PropertyType with
                | Some _ when isNull value -> $"{p.Name} = Option.toNullable {name}"
                // A reference-typed base property left out is passed as null: the record then applies its own default
                // at construction (Name: none; Dtype: the policy current then, as Keras resolves dtype=None).
                | _ when not p.PropertyType.IsValueType -> $"{p.Name} = Option.toObj {name}"
                | _ ->
                    match literal value with
                    | Some l -> $"{p.Name} = defaultArg {name} {l}"
                    | None -> $"{p.Name} = defaultArg {name} {defaultsModule}.Layer.{p.Name}"
            let t = defaultArg (nullableOf p.PropertyType) p.PropertyType
            yield { Declared = $"?{name}: {fsType t}"; Passed = passed; Type = t } ]

/// The text of a `<summary>` with its tags removed (`<c>x</c>` → `x`, `<see cref="T:A.B"/>` → `B`), on one line.
let private summaryText (docs: Map<string, XElement>) (key: string) =
    match docs.TryFind key with
    | None -> None
    | Some m ->
        match m.Element(XName.Get "summary") with
        | null -> None
        | s ->
            let sb = StringBuilder()
            let rec walk (n: XNode) =
                match n with
                | :? XText as t -> sb.Append(t.Value) |> ignore
                | :? XElement as e when e.Name.LocalName = "see" || e.Name.LocalName = "seealso" ->
                    match e.Attribute(XName.Get "cref"), e.Attribute(XName.Get "langword") with
                    | null, null -> for c in e.Nodes() do walk c
                    | null, w -> sb.Append(w.Value) |> ignore
                    | c, _ ->
                        if e.Nodes() |> Seq.isEmpty then
                            let v = c.Value.Substring(c.Value.IndexOf ':' + 1)
                            let v = if v.Contains '(' then v.Substring(0, v.IndexOf '(') else v
                            let short = v.Substring(v.LastIndexOf '.' + 1)
                            // A property is the DSL's argument of the same name: `Rate` → `rate`.
                            sb.Append(if c.Value.StartsWith "P:" then camel short else short) |> ignore
                        else for c in e.Nodes() do walk c
                | :? XElement as e when e.Name.LocalName = "paramref" || e.Name.LocalName = "typeparamref" ->
                    sb.Append(e.Attribute(XName.Get "name").Value) |> ignore
                | :? XElement as e -> for c in e.Nodes() do walk c
                | _ -> ()
            for n in s.Nodes() do walk n
            let text = Regex.Replace(sb.ToString(), @"\s+", " ").Trim()
            if text = "" then None else Some text

/// Wraps words into lines of at most `width` characters, each starting with `prefix`.
let private wrap (prefix: string) (width: int) (text: string) =
    let lines = ResizeArray<string>()
    let line = StringBuilder(prefix)
    for w in text.Split ' ' do
        if line.Length > prefix.Length && line.Length + 1 + w.Length > width then
            lines.Add(line.ToString())
            line.Clear().Append(prefix) |> ignore
        line.Append(' ').Append(w) |> ignore
    lines.Add(line.ToString())
    List.ofSeq lines

/// Joins items after `head`, breaking lines before `width`; continuation lines are indented to `indent` spaces.
let private flow (head: string) (indent: int) (width: int) (items: string list) (tail: string) =
    let lines = ResizeArray<string>()
    let line = StringBuilder(head)
    let n = List.length items
    items |> List.iteri (fun i item ->
        let piece = item + (if i < n - 1 then "," else tail)
        if line.Length > indent && line.Length + 1 + piece.Length > width && not (line.ToString().EndsWith "(") then
            lines.Add(line.ToString().TrimEnd())
            line.Clear().Append(String(' ', indent)) |> ignore
        elif i > 0 then line.Append ' ' |> ignore
        line.Append piece |> ignore)
    if n = 0 then line.Append tail |> ignore
    lines.Add(line.ToString())
    List.ofSeq lines

let private layerTypes (asm: Assembly) (layer: Type) =
    asm.GetExportedTypes()
    |> Array.filter (fun t -> t.IsClass && not t.IsAbstract && layer.IsAssignableFrom t && not (handWritten.Contains t.Name))
    |> Array.sortWith (fun a b -> String.CompareOrdinal(a.Name, b.Name))

/// The records the DSL must have a function for, with that function's name.
let expectedFunctions (asm: Assembly) =
    let layer = asm.GetType("Functional.Layers.Layer", true)
    [ for t in layerTypes asm layer -> t.Name, dslName t.Name ]

let private header = """// <auto-generated>
// GENERATED from the layer records in Functional.dll by dsl/generate-layers.fsx — do not edit by hand.
// Regenerate after changing a layer record:
//     dotnet build src/Functional.Torch -c Release && dotnet fsi dsl/generate-layers.fsx
// (the test "dsl/Layers.fs is what dsl/generate-layers.fsx writes" fails while this file is out of date).
// Hand-written parts live in dsl/LayerGenerator.fs: `input`/`inputOf`, the name override table and this header.
// </auto-generated>"""

/// The text of dsl/Layers.fs for the given Functional.dll and its XML documentation file (None: no doc comments).
let generate (asm: Assembly) (xmlDoc: string option) =
    let layer = asm.GetType("Functional.Layers.Layer", true)
    let docs =
        match xmlDoc with
        | Some path when File.Exists path ->
            XDocument.Load(path, LoadOptions.PreserveWhitespace).Root.Element(XName.Get "members").Elements(XName.Get "member")
            |> Seq.map (fun m -> m.Attribute(XName.Get "name").Value, m)
            |> Seq.fold (fun (acc: Map<string, XElement>) (k, v) -> acc.Add(k, v)) Map.empty
        | _ -> Map.empty
    let types = layerTypes asm layer
    // A layer made with defaults only, to read the base properties' defaults from.
    let defaults =
        types
        |> Array.tryPick (fun t ->
            kerasConstructor t
            |> Option.filter (fun c -> c.GetParameters() |> Array.forall (fun p -> p.IsOptional))
            |> Option.map (fun c -> t, c.Invoke(c.GetParameters() |> Array.map (fun p -> p.DefaultValue |> function :? DBNull -> null | v -> v))))
        |> Option.defaultWith (fun () -> failwith "LayerGenerator: no layer record has a constructor with only optional arguments.")
    let defaultsType, defaults = defaults
    let members = ResizeArray<string list>()
    let used = Collections.Generic.HashSet<string>([ "Functional.Layers" ])
    for t in types do
        match kerasConstructor t with
        | None -> ()
        | Some c ->
            let ctorArgs = constructorArgs c
            let ctorNames = ctorArgs |> List.map (fun a -> (argName a).ToLowerInvariant()) |> Set.ofList
            let args = ctorArgs @ baseArgs layer defaults ctorNames
            for a in args do for ns in namespaces a.Type do used.Add ns |> ignore
            let name = dslName t.Name
            let summary = summaryText docs ("T:" + t.FullName) |> Option.defaultValue $"Keras `{t.Name}`."
            let doc = wrap "    ///" 120 summary
            let signature = flow $"    static member {name}(" (19 + name.Length) 120 (args |> List.map (fun a -> a.Declared)) ") : Layer ="
            let ctorPassed = ctorArgs |> List.map (fun a -> a.Passed)
            let propsPassed = args |> List.skip ctorArgs.Length |> List.map (fun a -> a.Passed)
            let call = flow $"            {typeName t}(" (13 + (typeName t).Length) 120 (ctorPassed @ propsPassed) "))"
            members.Add(doc @ signature @ [ "        ScriptErrors.guard (fun () ->" ] @ call)
    // Keras's aliases (`MaxPool2D` for `MaxPooling2D`, …): LayerAliases's functions, each returning its record.
    let aliases = asm.GetType("Functional.Layers.LayerAliases")
    if not (isNull aliases) then
        let byType = types |> Array.map (fun t -> t, dslName t.Name) |> dict
        for m in aliases.GetMethods(BindingFlags.Public ||| BindingFlags.Static) |> Array.sortWith (fun a b -> String.CompareOrdinal(a.Name, b.Name)) do
            match byType.TryGetValue m.ReturnType with
            | true, target ->
                match kerasConstructor m.ReturnType with
                | Some c ->
                    let ctorArgs = constructorArgs c
                    let ctorNames = ctorArgs |> List.map (fun a -> (argName a).ToLowerInvariant()) |> Set.ofList
                    let args = ctorArgs @ baseArgs layer defaults ctorNames
                    let name = dslName m.Name
                    let doc = [ $"    /// Keras `{m.Name}`, an alias of `{m.ReturnType.Name}`." ]
                    let signature = flow $"    static member {name}(" (19 + name.Length) 120 (args |> List.map (fun a -> a.Declared)) ") : Layer ="
                    let forward (a: Arg) =
                        let n = a.Declared.TrimStart('?').Split(':').[0]
                        if a.Declared.StartsWith "?" then $"?{n} = {n}" else n
                    let call = flow $"        Layers.{target}(" (16 + target.Length) 120 (args |> List.map forward) ")"
                    members.Add(doc @ signature @ call)
                | None -> ()
            | _ -> ()
    let opens = used |> Seq.sort |> Seq.map (fun ns -> "open " + ns) |> List.ofSeq
    let lines =
        [ yield! header.Replace("\r\n", "\n").Split('\n')
          yield "namespace Functional.FSharp"
          yield ""
          yield! opens
          yield ""
          let readsDefaults = members |> Seq.exists (List.exists (fun l -> l.Contains(defaultsModule + ".Layer.")))
          if readsDefaults then
              yield "/// The base layer's defaults that no literal spells, read from a layer made with Keras's defaults."
              yield "module internal " + defaultsModule + " ="
              yield $"    let Layer : Layer = {typeName defaultsType}()"
              yield ""
          yield "/// Layer constructors in F# style: one camelCase function per layer record, Keras's optional arguments as named"
          yield "/// optional parameters (`Layers.conv2d (32, 3, padding = \"same\", activation = \"relu\")`). Strings convert to Keras's"
          yield "/// options, activations, initializers, regularizers and constraints (`kernelInitializer = \"zeros\"`), and every member"
          yield "/// delegates to the C# record's constructor, so defaults, validation and error messages are the records' own — the"
          yield "/// DSL does no shape arithmetic. `open type Functional.FSharp.Layers` brings the functions into scope unqualified."
          yield "/// Every layer also takes the base layer's own arguments (`name`, `trainable`, …)."
          yield "[<AbstractClass; Sealed>]"
          yield "type Layers ="
          yield "    /// Keras `Input(shape=...)`: the input of a Sequential model, `input (28, 28, 1)`."
          yield "    static member input([<System.ParamArray>] shape: int[]) : Layer = ScriptErrors.guard (fun () -> Input(shape))"
          yield ""
          yield "    /// Keras `Input(shape=(None, None, 3))`: an input whose dimensions may be unknown, `inputOf [ None; None; Some 3 ]`."
          yield "    static member inputOf(shape: int option list) : Layer = ScriptErrors.guard (fun () -> Input(Shape.ofOptions shape))"
          for m in members do
              yield ""
              yield! m ]
    String.Join("\n", lines) + "\n"
