namespace Functional.Shapes;

/// <summary>
/// Short quotations of input in error messages: a hostile document can hold a 50 MB string or a million layer names,
/// and an error message must not repeat it.
/// </summary>
internal static class Excerpt
{
    /// <summary>The most characters of input a message quotes.</summary>
    public const int MaxChars = 200;

    /// <summary>The most items of a list a message names.</summary>
    public const int MaxItems = 20;

    /// <summary>The text, or its first <see cref="MaxChars"/> characters followed by "… (N characters)".</summary>
    public static string Of(string? text)
    {
        if (text is null || text.Length <= MaxChars) return text ?? "";
        var cut = MaxChars;
        if (char.IsHighSurrogate(text[cut - 1])) cut--;   // never split a surrogate pair
        return $"{text[..cut]}… ({text.Length:N0} characters)";
    }

    /// <summary>The most values of a tuple or shape its text shows.</summary>
    public const int MaxValues = 32;

    /// <summary>
    /// Values joined by ", ": all of them up to <see cref="MaxValues"/>, else the first <see cref="MaxValues"/> then
    /// "… (N in all)" — a tuple read from a hostile document can hold millions of values, and its text appears in messages.
    /// </summary>
    public static string Values<T>(IReadOnlyCollection<T> values, Func<T, string>? format = null)
    {
        format ??= v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "";
        var shown = string.Join(", ", values.Take(MaxValues).Select(format));
        return values.Count <= MaxValues ? shown : $"{shown}, … ({values.Count:N0} in all)";
    }

    /// <summary>The items joined by ", ", each shortened, at most <see cref="MaxItems"/> of them, then "… (N in all)".</summary>
    public static string List(IEnumerable<string?> items)
    {
        var shown = new List<string>(MaxItems);
        var count = 0;
        foreach (var item in items)
        {
            if (count < MaxItems) shown.Add(Of(item));
            count++;
        }
        return count <= MaxItems ? string.Join(", ", shown) : $"{string.Join(", ", shown)}, … ({count:N0} in all)";
    }
}
